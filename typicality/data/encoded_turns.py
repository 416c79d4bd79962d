"""Text columns that hold JSON-encoded turn lists (`'["Hi", "And then?"]'`), decoded for the generic loaders.

Some public files store each conversation as a JSON string: the prompt as a list of user turns,
each response as the list of that model's answers (lmarena's arena-human-preference), or a
list of `{role, content}` messages. Scored as it stands, such a string is bracketed, quoted
JSON, not the conversation. A column is taken as encoded when every one of its first
`SAMPLE` non-missing values parses as a JSON list; then every value is decoded: a list of
strings (a JSON null may stand for a missing turn) or of {role, content} messages. A decoded
value of any other shape is refused, naming the column and the row, so nothing is scored as
bracketed text. A column where only some values look like JSON lists is plain text (a
response may well quote JSON). JSON may escape half of a surrogate pair (a cut emoji, as in
the arena's 55k release): no encoder accepts such text, so each lone surrogate becomes U+FFFD
and the decoded turns that held one are counted (the loaders note the count).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from typicality.errors import TypicalityError

SAMPLE = 100
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Drop reason of a battle whose decoded turn lists cannot make two conversations.
TURNS_DO_NOT_LINE_UP = "JSON turn lists do not line up (unequal lengths or a null turn)"


def is_encoded_column(values: Sequence) -> bool:
    """True when the column's first non-missing values are all strings that parse as JSON lists."""
    seen = 0
    for value in values:
        if value is None:
            continue
        if not isinstance(value, str) or _parsed_list(value) is None:
            return False
        seen += 1
        if seen >= SAMPLE:
            break
    return seen > 0


def decode_column(values: Sequence, column: str, where: str) -> tuple[list, int]:
    """Every value decoded (None stays None): a list of strings/None, or of {role, content} messages; and how many turns were repaired."""
    out, repaired = [], 0
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        turns = _parsed_list(value) if isinstance(value, str) else None
        if turns is None or not _is_turn_list(turns):
            shown = value if not isinstance(value, str) else value[:80]
            raise TypicalityError(
                f"{where}: column {column} holds JSON-encoded turn lists, but row {row} is {shown!r}, neither a JSON list of "
                "strings nor of {role, content} messages. Fix that row, or convert the column to plain text."
            )
        for index, turn in enumerate(turns):
            text = turn.get("content") if isinstance(turn, dict) else turn
            if isinstance(text, str) and LONE_SURROGATE.search(text):
                fixed = LONE_SURROGATE.sub("\ufffd", text)
                turns[index] = {**turn, "content": fixed} if isinstance(turn, dict) else fixed
                repaired += 1
        out.append(turns)
    return out, repaired


def repaired_note(repaired: int) -> str:
    return f"{repaired} JSON-encoded turns held half of a surrogate pair (a cut emoji); each such half became U+FFFD."


def conversation(prompt_turns, response_turns) -> list[dict] | None:
    """The message list of one side of a battle: user turn i, then this model's answer i; None when the lists do not line up.

    `prompt_turns`: a string (one user turn) or a list of user turns; `response_turns`: a list of the
    model's answers, one per user turn. A missing turn (a JSON null) makes the conversation
    unusable (None: the caller counts it as malformed).
    """
    if isinstance(prompt_turns, str):
        prompt_turns = [prompt_turns]
    if not isinstance(prompt_turns, list) or not isinstance(response_turns, list) or len(prompt_turns) != len(response_turns) or not prompt_turns:
        return None
    if not all(isinstance(turn, str) for turn in [*prompt_turns, *response_turns]):
        return None
    messages = []
    for question, answer in zip(prompt_turns, response_turns):
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return messages


def is_message_list(value) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(item, dict) for item in value)


def _parsed_list(text: str) -> list | None:
    stripped = text.strip()
    if not stripped.startswith("[") or not stripped.endswith("]"):
        return None
    try:
        parsed = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) else None


def _is_turn_list(turns: list) -> bool:
    if all(item is None or isinstance(item, str) for item in turns):
        return True
    return all(isinstance(item, dict) and isinstance(item.get("role"), str) and isinstance(item.get("content"), str) for item in turns)
