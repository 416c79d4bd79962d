"""Fitting a (context, response) pair into the model's context window.

A long prompt is cut from the left, never the response, keeping the leading BOS. A response
that alone does not fit (with BOS, or one context token) keeps its beginning, loses its tail,
and is flagged `truncated`; its prompt is then gone too (`prompt_truncated`).
"""

from __future__ import annotations

from collections.abc import Sequence


def fit_window(
    context: Sequence[int], response: Sequence[int], window: int, keep_first: int
) -> tuple[tuple[int, ...], tuple[int, ...], bool, bool]:
    """(context, response, prompt_truncated, truncated) with len(context) + len(response) <= window.

    `keep_first` leading context tokens (the BOS, when added) are never cut.
    """
    context, response = tuple(context), tuple(response)
    min_context = max(keep_first, 1)
    if window < min_context + 1:
        raise ValueError(f"a window of {window} tokens cannot hold a context token and a response token")
    truncated = len(response) + min_context > window
    if truncated:
        response = response[: window - min_context]
    room = window - len(response)
    prompt_truncated = len(context) > room
    if prompt_truncated:
        kept_tail = room - keep_first
        context = context[:keep_first] + (context[len(context) - kept_tail :] if kept_tail > 0 else ())
    return context, response, prompt_truncated, truncated
