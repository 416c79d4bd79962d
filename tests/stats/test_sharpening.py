"""results.json's `sharpening`: gamma = 1 + alpha / beta from the sequence-scale (summed, length-controlled) fit."""

from __future__ import annotations

import pytest

from typicality.errors import TypicalityError
from typicality.results import Estimate
from typicality.stats import AnalysisOptions, analyze, simulate
from typicality.stats.sharpening import DEFAULT_BETAS, check_betas, sequence_scale_estimate, sharpening


@pytest.fixture(scope="module")
def rated():
    return simulate(0.5, 150, 3, seed=4, rating_levels=5)


def test_gamma_comes_from_the_summed_length_controlled_fit_on_the_headline_slice(rated):
    data, scores = rated
    results = analyze(data, scores, seed=0)
    record = results.sharpening
    headline = results.headline_estimate
    source = results.estimate(record.estimate)
    assert source.slice == headline.slice and source.typicality == "sum_logprob"
    assert sorted(source.controls) == sorted([*headline.controls, "length"])
    assert record.available and record.betas == list(DEFAULT_BETAS)
    for row in record.gammas:
        # 1 + alpha / beta, computed here from the estimate itself; the CI maps through the same increasing function.
        assert row.gamma == pytest.approx(1 + source.alpha / row.beta, rel=1e-12)
        assert (row.ci_low, row.ci_high) == pytest.approx((1 + source.ci_low / row.beta, 1 + source.ci_high / row.beta), rel=1e-12)
        assert row.ci_low <= row.gamma <= row.ci_high


def test_a_hand_worked_gamma():
    estimates = [
        Estimate("all", "mean_logprob", [], fitted=True, alpha=0.24),
        Estimate("all", "sum_logprob", [], fitted=True, alpha=-0.001),
        Estimate("all", "sum_logprob", ["length"], fitted=True, alpha=0.004, ci_low=0.001, ci_high=0.007),
    ]
    record = sharpening(estimates, estimates[0], betas=[0.1, 0.01])
    assert record.estimate == "all|sum_logprob|length"
    # beta 0.01: 1 + 0.004 / 0.01 = 1.4 (CI 1.1 to 1.7); beta 0.1: 1.04 (1.01 to 1.07).
    flat = [value for row in record.gammas for value in (row.beta, row.gamma, row.ci_low, row.ci_high)]
    assert flat == pytest.approx([0.01, 1.4, 1.1, 1.7, 0.1, 1.04, 1.01, 1.07])


def test_no_sequence_scale_fit_means_no_gamma_and_says_why(rated):
    data, scores = rated
    results = analyze(data, scores, AnalysisOptions(typicalities=("mean_logprob",)))
    assert results.sharpening.available is False and results.sharpening.gammas == []
    assert "was not run" in results.sharpening.reason
    unfitted = [
        Estimate("all", "mean_logprob", [], fitted=True, alpha=0.2),
        Estimate("all", "sum_logprob", ["length"], fitted=False, reason="too few pairs"),
    ]
    assert "too few pairs" in sharpening(unfitted, unfitted[0]).reason
    assert sequence_scale_estimate(unfitted, None) is None


def test_betas_are_chosen_and_checked(rated):
    data, scores = rated
    results = analyze(data, scores, AnalysisOptions(betas=(0.2, 0.02)))
    assert [row.beta for row in results.sharpening.gammas] == [0.02, 0.2]
    for bad in ([0.0], [-0.1], [float("nan")], []):
        with pytest.raises(TypicalityError, match="--beta"):
            check_betas(bad)
    with pytest.raises(TypicalityError, match="--beta"):
        AnalysisOptions(betas=(0.0,))
