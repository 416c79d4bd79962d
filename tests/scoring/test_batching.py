"""Batch planning: every response once, within the token budget, a prompt's responses together, longest first."""

from __future__ import annotations

import random

from typicality.scoring.batching import batch_cost, plan_batches, similar_lengths
from typicality.scoring.requests import Prepared


def items(seed: int = 0, n_prompts: int = 30) -> list[Prepared]:
    rng = random.Random(seed)
    out = []
    for prompt in range(n_prompts):
        context = (1, prompt + 100, *range(rng.randint(0, 60)))
        for answer in range(rng.randint(1, 3)):
            out.append(Prepared(f"{prompt}-{answer}", context, tuple(range(rng.randint(1, 40)))))
    return out


def cost(batch: list[Prepared]) -> int:
    contexts = {item.context for item in batch}
    return batch_cost(len(contexts), max(map(len, contexts)), sum(len(item.response) - 1 for item in batch))


def test_every_response_once_within_budget_and_contexts_together():
    prepared = items()
    batches = plan_batches(prepared, batch_tokens=400)
    flat = [item.key for batch in batches for item in batch]
    assert sorted(flat) == sorted(item.key for item in prepared)
    assert all(cost(batch) <= 400 or len(batch) == 1 for batch in batches)
    # a context's responses are adjacent: each context occurs in one run of the flat order
    order = [item.context for batch in batches for item in batch]
    runs = [context for index, context in enumerate(order) if index == 0 or order[index - 1] != context]
    assert len(runs) == len(set(order))
    widths = [max(len(item.context) for item in batch) for batch in batches]
    assert widths == sorted(widths, reverse=True)  # longest first: memory trouble shows at once


def test_an_item_larger_than_the_budget_runs_alone():
    big = Prepared("big", (1,) * 50, tuple(range(50)))
    small = Prepared("small", (1, 2), (3, 4))
    assert plan_batches([small, big], batch_tokens=10) == [[big], [small]]


def test_shared_contexts_are_counted_once():
    context = (1, 2, 3, 4)
    pair = [Prepared("a", context, (5, 6, 7)), Prepared("b", context, (8, 9))]
    assert cost(pair) == 4 + 2 + 1
    assert plan_batches(pair, batch_tokens=7) == [pair]
    assert plan_batches(pair, batch_tokens=6) == [[pair[0]], [pair[1]]]


def test_similar_lengths_bound_the_padding():
    rng = random.Random(1)
    lengths = [rng.randint(0, 300) for _ in range(200)]
    runs = similar_lengths(lengths, waste=0.25, slack=16)
    assert sorted(i for run in runs for i in run) == list(range(200))
    for run in runs:
        padded, real = len(run) * max(lengths[i] for i in run), sum(lengths[i] for i in run)
        assert padded <= 1.25 * real + 16
    assert similar_lengths([5, 100, 6, 101], waste=0.25, slack=0) == [[0, 2], [1, 3]]
