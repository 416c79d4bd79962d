"""Length-sorted batches under a token budget, with a prompt's responses kept together."""

from __future__ import annotations

from typicality.scoring.requests import Prepared


def batch_cost(n_contexts: int, context_width: int, response_tokens: int) -> int:
    """Token positions a batch runs: each distinct context once (padded), then the responses.

    The responses run in runs of similar length (`similar_lengths`), so their padding is small
    and they count at their real length.
    """
    return n_contexts * context_width + response_tokens


def similar_lengths(lengths: list[int], waste: float = 0.1, slack: int = 8) -> list[list[int]]:
    """Indices grouped in runs of similar length, shortest first.

    A run grows while its padded size (count x longest) stays within (1 + waste) x its real
    size + slack tokens; many small runs cost per-call overhead, a few ragged ones cost padding.
    """
    runs: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        length = lengths[index]
        if current and (len(current) + 1) * length > (1 + waste) * (total + length) + slack:
            runs.append(current)
            current, total = [], 0
        current.append(index)
        total += length
    if current:
        runs.append(current)
    return runs


def plan_batches(items: list[Prepared], batch_tokens: int) -> list[list[Prepared]]:
    """Batches of prepared responses, longest context first, each within `batch_tokens` (see `batch_cost`).

    Responses that share a context sit next to each other so their context runs once; a
    response too long for the budget on its own gets a batch of its own.
    """
    ordered = sorted(items, key=lambda item: (-len(item.context), item.context, -len(item.response)))
    batches: list[list[Prepared]] = []
    current: list[Prepared] = []
    contexts: set[tuple[int, ...]] = set()
    context_width = response_tokens = 0
    for item in ordered:
        new_contexts = len(contexts) + (item.context not in contexts)
        cost = batch_cost(new_contexts, max(context_width, len(item.context)), response_tokens + len(item.response) - 1)
        if current and cost > batch_tokens:
            batches.append(current)
            current, contexts, context_width, response_tokens = [], set(), 0, 0
        current.append(item)
        contexts.add(item.context)
        context_width = max(context_width, len(item.context))
        response_tokens += len(item.response) - 1
    if current:
        batches.append(current)
    return batches
