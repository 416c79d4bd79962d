"""The Newton fits of stats/pairwise_models.py against statsmodels: the paper's logit and the Rao-Kupper model with ties."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.miscmodels.ordinal_model import OrderedModel

from typicality.stats import build_pairs, simulate
from typicality.stats.pairwise_models import fit_logit, fit_rao_kupper


@pytest.fixture(scope="module")
def tied_pairs():
    data, scores = simulate(0.5, 300, 4, seed=3, rating_levels=5)
    frame = build_pairs(data, scores, ties="half").frame
    X = frame[["delta_mean_logprob", "delta_correctness"]].to_numpy(float)
    return frame["label"].to_numpy(float), X, frame["prompt_id"].to_numpy()


def test_logit_matches_statsmodels_glm_with_the_clustered_covariance(tied_pairs):
    y, X, groups = tied_pairs
    decided = y != 0.5
    fit = fit_logit(y[decided], X[decided], groups[decided])
    reference = sm.GLM(y[decided], X[decided], family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(groups[decided])[0], "use_correction": True}
    )
    assert fit.converged and fit.n_clusters == len(set(groups[decided]))
    np.testing.assert_allclose(fit.params, reference.params, atol=1e-8)
    np.testing.assert_allclose(fit.cov, reference.cov_params(), rtol=1e-6)


def test_rao_kupper_matches_an_ordered_logit_on_the_symmetrised_pairs(tied_pairs):
    """Rao-Kupper = an ordered logit of (b, tie, a) with thresholds -tau, +tau. On the pairs plus their flips,
    statsmodels' free thresholds come out symmetric and the slopes are the same; so is the clustered covariance."""
    y, X, groups = tied_pairs
    fit = fit_rao_kupper(y, X, groups)
    assert fit.converged
    outcome = np.r_[y, 1 - y]
    both = np.vstack([X, -X])
    codes = np.r_[pd.factorize(groups)[0], pd.factorize(groups)[0]]  # a pair and its flip share the prompt's cluster
    endog = pd.Series(pd.Categorical(outcome, categories=[0.0, 0.5, 1.0], ordered=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = OrderedModel(endog, pd.DataFrame(both, columns=["dl", "dc"]), distr="logit").fit(
            method="bfgs", disp=False, maxiter=5000, gtol=1e-10, cov_type="cluster", cov_kwds={"groups": codes, "use_correction": False}
        )
    np.testing.assert_allclose(fit.params[:2], reference.params[:2], atol=1e-5)
    thresholds = reference.model.transform_threshold_params(reference.params)[1:-1]
    np.testing.assert_allclose(thresholds, [-fit.params[2], fit.params[2]], atol=1e-5)
    # Our covariance carries the small-sample factor G/(G-1) (N-1)/(N-K); statsmodels' here none.
    n, k, g = len(y), 3, len(set(groups))
    factor = g / (g - 1) * (n - 1) / (n - k)
    # Each pair appears twice (with its flip), which doubles both the bread and the meat: the sandwich is the same.
    np.testing.assert_allclose(fit.cov[:2, :2] / factor, np.asarray(reference.cov_params())[:2, :2], rtol=1e-3)


def test_rao_kupper_without_ties_has_no_threshold_and_a_singular_design_gives_no_covariance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1))
    y = (rng.random(200) < 1 / (1 + np.exp(-x[:, 0]))).astype(float)
    groups = np.arange(200) // 2
    fit = fit_rao_kupper(y, x, groups)
    assert fit.params[-1] < 0.01  # nothing ties: the threshold shrinks towards 0
    singular = fit_logit(y, np.column_stack([x, x]), groups)
    assert not singular.converged
