"""How a prompt and its response are joined into the one text the model reads.

Sources differ. HH-RLHF prompts end with `\\n\\nAssistant:` and its responses start with a
space, so plain concatenation is already natural text. HelpSteer, UltraFeedback, SHP and
single-turn Arena store a bare instruction and a bare answer: concatenated they would read
"Write a haiku.Leaves fall", a text no base model has seen, and the response's first token
would be scored against a glued-on context.

The rule, the same for every backend: when neither side brings whitespace to the join, one
newline goes between them, on the prompt's side (it is context, never scored). Otherwise the
two are joined as they are. Cache keys are computed from the original texts.
"""

from __future__ import annotations

SEPARATOR = "\n"


def scoring_context(prompt: str, response: str) -> str:
    """The context the response is scored after: the prompt, plus SEPARATOR when the join has no whitespace."""
    if not (isinstance(prompt, str) and isinstance(response, str) and prompt and response):
        return prompt  # a missing or empty text is the preparation stage's to skip and count
    if not prompt[-1].isspace() and not response[0].isspace():
        return prompt + SEPARATOR
    return prompt
