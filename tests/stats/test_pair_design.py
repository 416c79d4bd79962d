"""The pair design on a hand-built dataset: every delta, drop and orientation checked against a naive computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.stats.builders import pairwise, random_pairwise, rated, scores_table
from typicality.errors import TypicalityError
from typicality.stats import available_slices, build_pairs, pair_accounting, select_slice

MEANS = {"A1": -1.0, "B1": -2.0, "C1": -1.5, "A2": -3.0, "B2": -2.5, "A3": -1.0, "A4": float("nan"), "B4": -2.0}
TOKENS = {"A1": 10, "B1": 20, "C1": 30, "A2": 5, "B2": 50, "A3": 8, "A4": 9, "B4": 12}


def hand_data():
    # P1: A1 beats B1; P1: A1 ties C1; P2: B2 beats A2; P3: B3 unscored; P4: A4's score is NaN.
    return pairwise(
        ["P1", "P1", "P2", "P3", "P4"],
        ["A1", "A1", "A2", "A3", "A4"],
        ["B1", "C1", "B2", "B3", "B4"],
        [1.0, 0.5, 0.0, 1.0, 1.0],
        subset=["x", "x", "y", "y", "x"],
    )


def text_of(data):
    return dict(zip(data.responses["response_id"], data.responses["response"]))


def test_deltas_labels_and_drops_match_a_naive_computation():
    data = hand_data()
    design = build_pairs(data, scores_table(data, MEANS, TOKENS), seed=3)
    text = text_of(data)
    assert len(design) == 2
    seen = set()
    for _, row in design.frame.iterrows():
        a, b = text[row["response_a"]], text[row["response_b"]]
        assert row["delta_mean_logprob"] == pytest.approx(MEANS[a] - MEANS[b], abs=1e-12)
        assert row["delta_sum_logprob"] == pytest.approx(MEANS[a] * TOKENS[a] - MEANS[b] * TOKENS[b], abs=1e-9)
        assert row["delta_log_tokens"] == pytest.approx(math.log(TOKENS[a] / TOKENS[b]), abs=1e-12)
        preferred, other = (a, b) if row["label"] == 1.0 else (b, a)
        seen.add((preferred, other, row["subset"]))
    assert seen == {("A1", "B1", "x"), ("B2", "A2", "y")}
    accounting = pair_accounting(design)
    assert accounting.comparisons == 5 and accounting.pairs == 2
    assert accounting.dropped == {"a response has no usable score": 2, "tie (ties='drop')": 1}
    assert accounting.responses_without_score == 1  # B3
    assert accounting.responses_with_unusable_score == 1  # A4 (NaN)


def test_ties_kept_as_half_when_asked():
    data = hand_data()
    design = build_pairs(data, scores_table(data, MEANS, TOKENS), ties="half")
    assert len(design) == 3
    assert (design.frame["label"] == 0.5).sum() == 1
    assert pair_accounting(design).ties_kept_as_half == 1


def test_orientation_is_seeded_balanced_and_recorded():
    data, scores = random_pairwise(1000, seed=1)
    one, again, other = build_pairs(data, scores, seed=5), build_pairs(data, scores, seed=5), build_pairs(data, scores, seed=6)
    pd.testing.assert_frame_equal(one.frame, again.frame)
    assert one.seed == 5 and other.seed == 6
    one = one.frame
    assert not one["flipped"].equals(other.frame["flipped"])
    assert 0.45 < one["flipped"].mean() < 0.55
    # The source lists the preferred response first (label 1): a flipped pair has label 0.
    assert (one["label"] == np.where(one["flipped"], 0.0, 1.0)).all()
    source = data.comparisons.loc[one["comparison"]]
    swapped = np.where(one["flipped"], source["response_b"], source["response_a"])
    assert (one["response_a"].to_numpy() == swapped).all()


def test_ratings_become_deltas_and_the_equal_correctness_slice():
    data = rated(
        [
            {"prompt": "Q", "response": "r1", "helpfulness": 3, "correctness": 2},
            {"prompt": "Q", "response": "r2", "helpfulness": 1, "correctness": 2},
            {"prompt": "Q", "response": "r3", "helpfulness": 2, "correctness": 4},
        ]
    )
    design = build_pairs(data, scores_table(data, {"r1": -1.0, "r2": -2.0, "r3": -1.5}))
    text, ratings = text_of(data), {"r1": (3, 2), "r2": (1, 2), "r3": (2, 4)}
    for _, row in design.frame.iterrows():
        a, b = text[row["response_a"]], text[row["response_b"]]
        assert row["delta_helpfulness"] == ratings[a][0] - ratings[b][0]
        assert row["delta_correctness"] == ratings[a][1] - ratings[b][1]
        assert row["label"] == float(ratings[a][0] > ratings[b][0])
    equal = select_slice(design, "equal-correctness")
    assert {frozenset((text[a], text[b])) for a, b in zip(equal["response_a"], equal["response_b"])} == {frozenset(("r1", "r2"))}
    assert "equal-correctness" in available_slices(design)


def test_metadata_slices():
    data = hand_data()
    design = build_pairs(data, scores_table(data, MEANS, TOKENS))
    assert available_slices(design) == ["all", "subset=x", "subset=y"]
    assert len(select_slice(design, "subset=y")) == 1
    with pytest.raises(TypicalityError, match="Unknown slice"):
        select_slice(design, "domain=z")
    with pytest.raises(TypicalityError, match="correctness"):
        select_slice(design, "equal-correctness")


def test_scorer_skips_are_counted_by_reason():
    data = hand_data()
    scores = scores_table(data, {**MEANS, "A4": -1.0})
    scores["skipped"] = None
    scores.loc[
        scores["response_id"] == data.responses.loc[data.responses["response"] == "A4", "response_id"].iloc[0],
        ["skipped", "n_tokens", "mean_logprob", "sum_logprob"],
    ] = ["empty response", 0, np.nan, np.nan]
    accounting = pair_accounting(build_pairs(data, scores))
    assert accounting.unusable_scores == {"skipped by the scorer: empty response": 1}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.drop(columns=["mean_logprob"]), "lacks the column"),
        (lambda s: s.assign(model=["m1"] + ["m2"] * (len(s) - 1)), "mixes scores from 2 models"),
        (lambda s: pd.concat([s, s.head(1).assign(mean_logprob=-9.0)]), "more than once with different scores"),
    ],
)
def test_bad_scores_tables_are_named(change, message):
    data = hand_data()
    with pytest.raises(TypicalityError, match=message):
        build_pairs(data, change(scores_table(data, MEANS, TOKENS)))


def test_a_repeated_identical_score_row_is_harmless_and_bad_ties_option_is_refused():
    data = hand_data()
    scores = scores_table(data, MEANS, TOKENS)
    pd.testing.assert_frame_equal(build_pairs(data, pd.concat([scores, scores.head(2)])).frame, build_pairs(data, scores).frame)
    with pytest.raises(TypicalityError, match="ties must be"):
        build_pairs(data, scores, ties="keep")
