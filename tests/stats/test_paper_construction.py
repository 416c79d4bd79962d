"""Under the paper's pair construction (`--pairs paper`) influence and the debiased export fit the headline's model, intercept included."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from typicality.stats import analyze_with_design, simulate
from typicality.stats.debias import choose_alpha, debiasing_summary, fit_debias_model
from typicality.stats.influence import compute_influence
from typicality.stats.pair_design import select_slice
from typicality.stats.pairwise_logit import PairwiseLogit, PairwiseSpec


@pytest.fixture(scope="module")
def paper_fit():
    data, scores = simulate(0.5, 80, 4, seed=5)
    return analyze_with_design(data, scores, pairs="paper", change_draws=0)


@pytest.fixture(scope="module")
def paper_results(paper_fit):
    return paper_fit[0]


@pytest.fixture(scope="module")
def paper_design(paper_fit):
    return paper_fit[1]


def _no_intercept_alpha(design, estimate) -> float:
    """The estimate's fit without the paper construction's intercept: what influence used to refit."""
    rows = select_slice(design, estimate.slice)
    columns = ["delta_mean_logprob"] + [f"delta_{name}" for name in estimate.controls]
    return float(sm.GLM(rows["label"].to_numpy(float), rows[columns].to_numpy(float), family=sm.families.Binomial()).fit().params[0])


def test_the_headline_fits_an_intercept(paper_results, paper_design):
    headline = paper_results.headline_estimate
    assert paper_design.construction == "paper"
    assert "intercept" in headline.coefficients
    model = PairwiseLogit(paper_design, PairwiseSpec.of(headline))
    assert model.names[-1] == "intercept" and np.all(model.X[:, -1] == 1.0)


def test_influence_refits_the_headline_model(paper_results, paper_design):
    headline = paper_results.headline_estimate
    influence = compute_influence(paper_design, headline)
    assert influence.summary.alpha == pytest.approx(headline.alpha, rel=1e-7)
    # The test can fail: the fit without the intercept gives another alpha.
    assert abs(_no_intercept_alpha(paper_design, headline) - headline.alpha) > 1e-4
    assert influence.summary.n_pairs == headline.n_pairs
    top = influence.summary.without_top_prompts
    assert top["fitted"] and top["n_pairs_removed"] > 0


def test_the_export_refits_the_headline_model(paper_results, paper_design):
    adjusted = paper_results.estimate("all|mean_logprob|correctness")
    model = fit_debias_model(paper_design, choose_alpha(paper_results, estimate=adjusted.id))
    # alpha fixed at the fit's own alpha gives back that fit's coefficients, the intercept among them.
    assert model.beta["correctness"] == pytest.approx(adjusted.coefficients["correctness"]["coef"], rel=1e-6)
    assert model.intercept == pytest.approx(adjusted.coefficients["intercept"]["coef"], rel=1e-6, abs=1e-9)
    summary = debiasing_summary(paper_design, paper_results.estimates, paper_results.headline_estimate, paper_results.correctness, estimate=adjusted.id)
    assert summary.coefficients_with_typicality["correctness"] == pytest.approx(adjusted.coefficients["correctness"]["coef"], rel=1e-6)
