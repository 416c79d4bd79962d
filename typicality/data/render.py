"""Message lists -> plain text, the one rendering every conversational source shares.

Base models score raw text, so conversations are never passed through an instruct chat
template. The rule (`render_prompt`):

- a prompt that is a single user message is that message's text, verbatim: the raw text
  the annotators saw, and the same text that sources storing plain prompts (HelpSteer,
  UltraFeedback raw) hold;
- any other prompt (several turns, or a system message) is an HH-RLHF-style transcript,
  each turn as `\\n\\nHuman: ...`, `\\n\\nAssistant: ...` or `\\n\\nSystem: ...` (contents
  stripped of surrounding whitespace), ending with
  `\\n\\nAssistant:` so the judged response is the assistant's next turn, exactly as in
  Anthropic/hh-rlhf.

The judged response is always the content of the last assistant message, verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence

from typicality.domain import Accounting

ROLE_NAMES = {"user": "Human", "human": "Human", "assistant": "Assistant", "system": "System"}
ASSISTANT_CUE = "\n\nAssistant:"

# Drop reasons shared by every conversational source, so reports read the same.
MALFORMED = "conversation is not a list of {role, content} messages"
NO_ASSISTANT = "conversation does not end with an assistant turn"
HISTORIES_DIFFER = "earlier turns differ between the two conversations"


def is_conversation(value) -> bool:
    """True for a non-empty list of {role, content} messages with string contents."""
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value)
    )


def render_prompt(messages: Sequence[dict]) -> str:
    """The plain text of the turns before a response (rule in the module docstring)."""
    if len(messages) == 1 and messages[0]["role"].lower() in ("user", "human"):
        return messages[0]["content"]
    turns = "".join(f"\n\n{_speaker(m['role'])}: {m['content'].strip()}" for m in messages)
    return turns + ASSISTANT_CUE


def split_conversation(messages: Sequence[dict]) -> tuple[str, str] | None:
    """(prompt text, response) of a conversation whose last message is the judged assistant turn; None otherwise."""
    if not is_conversation(messages) or len(messages) < 2 or messages[-1]["role"].lower() != "assistant":
        return None
    return render_prompt(messages[:-1]), messages[-1]["content"]


def split_conversation_pair(messages_a, messages_b, accounting: Accounting) -> tuple[str, str, str] | None:
    """(prompt, response_a, response_b) of two conversations that share every turn but the last.

    Returns None and counts the reason in `accounting` when either is malformed, lacks a final
    assistant turn, or their earlier turns differ (then the two responses answer different
    prompts and cannot be compared as one pair).
    """
    if not is_conversation(messages_a) or not is_conversation(messages_b):
        accounting.drop(MALFORMED)
        return None
    parts_a, parts_b = split_conversation(messages_a), split_conversation(messages_b)
    if parts_a is None or parts_b is None:
        accounting.drop(NO_ASSISTANT)
        return None
    if [_turn(m) for m in messages_a[:-1]] != [_turn(m) for m in messages_b[:-1]]:
        accounting.drop(HISTORIES_DIFFER)
        return None
    return parts_a[0], parts_a[1], parts_b[1]


def _speaker(role: str) -> str:
    return ROLE_NAMES.get(role.lower(), role.strip().title() or "Unknown")


def _turn(message: dict) -> tuple[str, str]:
    return message["role"].lower(), message["content"]
