"""Validation by simulation: data built as the paper's model says, and the estimator recovers the alpha it was given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from typicality.data.build import from_ratings
from typicality.domain import Accounting
from typicality.errors import TypicalityError
from typicality.stats import TypicalityBias, build_pairs, simulate


@pytest.mark.parametrize("rating_levels", [None, 5])
def test_simulated_data_is_what_from_ratings_builds(rating_levels):
    data, scores = simulate(0.5, 30, 4, seed=1, rating_levels=rating_levels)
    rated = data.responses[["prompt", "response", "helpfulness", "correctness"]]
    reference = from_ratings("simulated", rated.copy(), "helpfulness", ["helpfulness", "correctness"], Accounting(), correctness="correctness")
    pd.testing.assert_frame_equal(data.responses, reference.responses, check_dtype=False)
    pd.testing.assert_frame_equal(data.comparisons, reference.comparisons, check_dtype=False)
    assert (data.kind, data.preference, data.correctness) == (reference.kind, reference.preference, reference.correctness)
    assert list(scores.table["response_id"]) == list(data.responses["response_id"])
    assert np.allclose(scores.table["sum_logprob"], scores.table["mean_logprob"] * scores.table["n_tokens"])
    assert ((data.comparisons["label"] == 0.5).sum() > 0) == (rating_levels is not None)


def test_labels_follow_the_bradley_terry_model_it_claims():
    # A free logit of the label on delta correctness and delta typicality recovers both coefficients.
    data, scores = simulate(-0.3, 3000, 4, seed=2, quality_effect=0.7)
    design = build_pairs(data, scores)
    frame = design.frame
    fit = sm.GLM(frame["label"], frame[["delta_correctness", "delta_mean_logprob"]], family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["prompt_id"])[0]}
    )
    assert abs(fit.params.iloc[0] - 0.7) < 4 * fit.bse.iloc[0]
    assert abs(fit.params.iloc[1] + 0.3) < 4 * fit.bse.iloc[1]
    # The confounds the simulation promises: quality and length both rise with typicality.
    assert np.corrcoef(frame["delta_mean_logprob"], frame["delta_correctness"])[0, 1] > 0.2
    assert np.corrcoef(frame["delta_mean_logprob"], frame["delta_log_tokens"])[0, 1] > 0.1


def test_omitting_quality_biases_alpha_upward():
    data, scores = simulate(0.0, 3000, 4, seed=3)
    design = build_pairs(data, scores)
    naive = TypicalityBias().fit(design).estimate_
    adjusted = TypicalityBias(controls=["correctness"]).fit(design).estimate_
    equal = TypicalityBias(slice="equal-correctness").fit(design).estimate_
    # No typicality bias at all, yet the fit without quality finds one: quality rides on typicality.
    assert naive.ci_low > 0.2
    assert adjusted.ci_low < 0 < adjusted.ci_high
    assert equal.ci_low < 0 < equal.ci_high


def test_bad_settings_are_refused():
    with pytest.raises(TypicalityError, match="responses-per-prompt"):
        simulate(0.5, 10, 1)
    with pytest.raises(TypicalityError, match="prompts"):
        simulate(0.5, 0, 4)
    with pytest.raises(TypicalityError, match="alpha"):
        simulate(float("nan"), 10, 4)


@pytest.mark.slow
def test_confidence_intervals_cover_the_true_alpha():
    """1000 datasets (120 prompts x 6 responses): 95% CIs cover alpha in 93-97% and the mean bias is < 0.02.

    1000 rather than the minimum 200: with 200 the coverage alone has a binomial SD of 1.5 points,
    so a correct estimator would miss the 93-97% band one time in five.
    """
    alpha, n_datasets = 0.5, 1000
    found = {"adjusted": [], "equal-correctness": []}
    for seed in range(n_datasets):
        data, scores = simulate(alpha, 120, 6, seed=seed)
        design = build_pairs(data, scores, seed=seed)
        for name, model in (("adjusted", TypicalityBias(controls=["correctness"])), ("equal-correctness", TypicalityBias(slice="equal-correctness"))):
            estimate = model.fit(design).estimate_
            assert estimate.fitted, estimate.reason
            found[name].append((estimate.alpha, estimate.ci_low <= alpha <= estimate.ci_high))
    for name, rows in found.items():
        estimates, covered = np.array(rows).T
        print(f"{name}: coverage {covered.mean():.3f}, mean bias {estimates.mean() - alpha:+.4f} (MC SE {estimates.std() / np.sqrt(n_datasets):.4f})")
        assert 0.93 <= covered.mean() <= 0.97, f"{name}: coverage {covered.mean():.3f}"
        assert abs(estimates.mean() - alpha) < 0.02, f"{name}: bias {estimates.mean() - alpha:+.4f}"
