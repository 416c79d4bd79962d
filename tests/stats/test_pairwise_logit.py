"""PairwiseLogit: its inference is statsmodels' (t with G - 1 df, or the normal), and refit reproduces the fit."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from typicality.stats import build_pairs, simulate
from typicality.stats.pairwise_logit import PairwiseLogit, PairwiseSpec


@pytest.fixture(scope="module")
def model() -> PairwiseLogit:
    data, scores = simulate(0.5, 40, 4, seed=2)
    return PairwiseLogit(build_pairs(data, scores), PairwiseSpec("all", "mean_logprob", ("correctness",)))


@pytest.mark.parametrize("use_t", [True, False])
def test_inference_is_statsmodels_own(model, use_t):
    results = model.fit(use_t=use_t)
    fitted = results.statsmodels
    assert fitted.use_t is use_t and results.df == model.n_clusters - 1 == 39
    if use_t:
        assert fitted.df_resid_inference == results.df
    assert_allclose(results.conf_int(), np.asarray(fitted.conf_int()), rtol=1e-12)
    assert_allclose(results.pvalues, np.asarray(fitted.pvalues), rtol=1e-12)
    contrast = np.array([1.0, -1.0])
    test = fitted.t_test(contrast)
    wald = results.wald(contrast)
    assert wald["p_value"] == pytest.approx(float(np.asarray(test.pvalue)), rel=1e-10)
    assert wald["ci_low"] == pytest.approx(float(np.asarray(test.conf_int())[0, 0]), rel=1e-10)


def test_refit_on_every_row_is_the_fit(model):
    results = model.fit()
    again = results.refit(np.arange(model.n_pairs))
    assert_allclose(again.params, results.params, rtol=1e-8)
    without_control = model.refit(np.arange(model.n_pairs), columns=[0])
    assert without_control is not None and len(without_control.params) == 1
