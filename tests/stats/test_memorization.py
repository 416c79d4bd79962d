"""Memorized responses (mean token probability >= 0.7): flags, counts, and the not-memorized robustness fit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

from typicality.domain import PairDesign, ScoreResult
from typicality.stats import analyze, analyze_with_design, simulate
from typicality.stats.memorization import base_slice, is_memorized, memorization_summary, not_memorized_slice
from typicality.stats.pair_design import select_slice
from typicality.stats.typicality_bias import TypicalityBias


def test_threshold_is_mean_token_probability_0_7():
    values = np.array([math.log(0.7), math.log(0.69), -0.1, 0.0, -2.0, np.nan])
    assert is_memorized(values).tolist() == [True, False, True, True, False, False]
    assert is_memorized(values).tolist() == [bool(np.exp(v) >= 0.7 - 1e-12) if not np.isnan(v) else False for v in values]


def test_slice_names_round_trip():
    assert not_memorized_slice("all") == "not-memorized" and base_slice("not-memorized") == "all"
    assert base_slice(not_memorized_slice("equal-correctness")) == "equal-correctness"
    assert base_slice("equal-correctness") is None


def test_counts_by_hand():
    frame = pd.DataFrame(
        {
            "prompt_id": ["p1", "p1", "p2"],
            "response_a": ["r1", "r1", "r4"],
            "response_b": ["r2", "r3", "r5"],
            "mean_logprob_a": [-0.2, -0.2, -1.0],
            "mean_logprob_b": [-1.5, -0.3, -2.0],
        }
    )
    summary = memorization_summary(PairDesign(frame=frame), pd.DataFrame({"mean_logprob": [-0.2, -1.5, -0.3, -1.0, -2.0, -0.01]}))
    assert summary.n_responses_in_pairs == 5
    assert summary.n_memorized_in_pairs == 2  # r1 (p = 0.82) and r3 (p = 0.74)
    assert summary.n_pairs_with_memorized == 2
    assert summary.n_scored_responses == 6 and summary.n_memorized_responses == 3


def test_analyze_adds_the_not_memorized_fit():
    data, scores = simulate(0.5, 300, 4, seed=7)
    table = scores.table.copy()
    memorized = np.random.default_rng(0).random(len(table)) < 0.1
    table.loc[memorized, "mean_logprob"] = -0.1
    table["sum_logprob"] = table["mean_logprob"] * table["n_tokens"]
    results, design = analyze_with_design(data, ScoreResult(table, scores.card))
    summary = results.memorized
    assert summary.n_memorized_responses == int((np.exp(table["mean_logprob"]) >= 0.7).sum()) >= int(memorized.sum())
    fit = results.estimate(summary.estimate)
    assert fit.slice == "equal-correctness+not-memorized" and fit.fitted
    # The same fit by hand: drop every pair holding a response scored -0.1, then fit the headline slice.
    frame = design.frame
    kept = frame[(np.exp(frame["mean_logprob_a"]) < 0.7) & (np.exp(frame["mean_logprob_b"]) < 0.7)]
    by_hand = TypicalityBias("mean_logprob", slice="equal-correctness").fit(design.with_frame(kept)).estimate_
    assert summary.n_pairs_with_memorized == len(frame) - len(kept)
    assert fit.n_pairs == by_hand.n_pairs and results.slices[fit.slice]["n_pairs"] == by_hand.n_pairs
    assert_allclose(fit.alpha, by_hand.alpha, rtol=1e-10)
    assert_allclose(fit.se, by_hand.se, rtol=1e-10)
    assert len(select_slice(design, fit.slice)) == by_hand.n_pairs  # the slice is a real slice everywhere
    assert results.headline_estimate.slice == "equal-correctness"  # the headline does not move


def test_no_memorized_responses_no_extra_fit():
    data, scores = simulate(0.5, 100, 3, seed=8)
    table = scores.table.copy()
    table["mean_logprob"] = np.minimum(table["mean_logprob"], -1.0)  # the simulation draws a few above log 0.7
    results = analyze(data, ScoreResult(table, scores.card))
    assert results.memorized.n_memorized_responses == 0 and results.memorized.estimate is None
    assert not any("not-memorized" in record.slice for record in results.estimates)
