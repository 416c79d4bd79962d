"""The prompt/response token boundary rule, shared by every backend.

Tokenizing `prompt + response` and cutting at `len(tokenize(prompt))` is only right when the
prompt's tokens are an exact prefix of the joint tokens. When they are not, some token spans
the join (e.g. a prompt ending in a partial word, or a trailing space that the tokenizer
glues to the response's first word).

The rule: tokenize the joint text once; the context is the longest common prefix of the
joint tokens and the prompt's own tokens; every joint token after it is scored as part of
the response. So a token that spans the join is scored with the response (the response's
log-likelihood then includes the few prompt characters that token carries), the model
always sees the tokenization it would have produced for the whole text, and the case is
flagged (`boundary_merged`) and counted.
"""

from __future__ import annotations

from collections.abc import Sequence


def common_prefix_length(first: Sequence[int], second: Sequence[int]) -> int:
    """How many leading tokens the two sequences share."""
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


def split_joint(prompt_ids: Sequence[int], joint_ids: Sequence[int]) -> tuple[int, bool]:
    """(number of joint tokens that form the context, whether a token spans the join)."""
    cut = common_prefix_length(prompt_ids, joint_ids)
    return cut, cut < len(prompt_ids)
