"""Shared construction: within-prompt pairs from ratings against a naive loop, and label parsing."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from typicality.data.build import from_ratings, parse_labels
from typicality.domain import Accounting
from typicality.errors import TypicalityError


def test_pairs_from_ratings_match_a_naive_loop_on_interleaved_prompts():
    rng = np.random.default_rng(7)
    n = 300
    prompts = rng.choice([f"prompt {k}" for k in range(60)], size=n)  # rows of one prompt are scattered
    rated = pd.DataFrame(
        {
            "prompt": prompts,
            "response": [f"response {i}" for i in range(n)],
            "score": rng.integers(0, 4, size=n).astype(float),
            "origin": [f"origin of {p} at row {i}" for i, p in enumerate(prompts)],
        }
    )
    data = from_ratings("t", rated, "score", ["score"], Accounting(rows_read=n), prompt_metadata=["origin"])

    expected = []
    for prompt in dict.fromkeys(prompts):  # prompts in order of first appearance
        rows = rated[rated["prompt"] == prompt]
        for (_, a), (_, b) in itertools.combinations(rows.iterrows(), 2):
            label = 1.0 if a["score"] > b["score"] else 0.0 if a["score"] < b["score"] else 0.5
            expected.append((a["response"], b["response"], label, rows["origin"].iloc[0]))
    text = data.responses.set_index("response_id")["response"]
    got = [
        (text[a], text[b], label, origin) for a, b, label, origin in data.comparisons[["response_a", "response_b", "label", "origin"]].itertuples(index=False)
    ]
    assert got == expected
    counts = pd.Series(prompts).value_counts()
    assert len(data.comparisons) == int((counts * (counts - 1) // 2).sum())


def test_no_rated_response_gives_no_pairs():
    rated = pd.DataFrame({"prompt": ["q", "q"], "response": ["a", "b"], "score": [np.nan, np.nan]})
    data = from_ratings("t", rated, "score", ["score"], Accounting(rows_read=2))
    assert len(data.comparisons) == 0 and data.accounting.dropped["missing score rating"] == 2


def test_parse_labels():
    assert parse_labels([1, 0, 0.5, "1", None], "f") == pytest.approx([1.0, 0.0, 0.5, 1.0, np.nan], nan_ok=True)
    with pytest.raises(TypicalityError, match="f: 1 labels are not 1 .* or 0 .*; found 0.5"):
        parse_labels([1, 0.5], "f", allowed=(1.0, 0.0))
