"""The debiasing numbers: the alpha choice, the margin's sign and scale, reweighing weights, flips.

The required proof is `test_margin_as_offset_recovers_zero_typicality_and_true_quality`: over many
simulated datasets with a known alpha and a known true quality, a Bradley-Terry logit fitted with
the exported margin as an offset gives a typicality coefficient whose CI covers 0 and a quality
coefficient whose CI covers the truth, at about the nominal 95%.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from scipy.special import expit

from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.results import is_quality_controlled
from typicality.stats import build_pairs, simulate
from typicality.stats.debias import (
    choose_alpha,
    choose_alpha_among,
    debiasing_summary,
    fit_debias_model,
    pair_terms,
    winner_first,
)
from typicality.stats.pair_design import EQUAL_CORRECTNESS
from typicality.stats.typicality_bias import TypicalityBias


def _results_for(design: PairDesign, specs: list[tuple[str, list[str]]], headline: str | None = None) -> SimpleNamespace:
    """What the alpha choice reads of `AuditResults` (estimates, headline_estimate, correctness), from real fits of `design`."""
    estimates = tuple(TypicalityBias("mean_logprob", controls, slice=slice_name).fit(design).estimate_ for slice_name, controls in specs)
    wanted = headline or estimates[0].id
    return SimpleNamespace(
        estimates=estimates, headline_estimate=next(e for e in estimates if e.id == wanted), correctness=design.correctness
    )


@pytest.fixture(scope="module")
def simulated_design() -> PairDesign:
    data, scores = simulate(0.5, 300, 4, seed=3)
    return build_pairs(data, scores, seed=3)


# --- The alpha choice -----------------------------------------------------------------------


def test_alpha_is_the_quality_controlled_headline(simulated_design):
    results = _results_for(simulated_design, [(EQUAL_CORRECTNESS, []), ("all", ["correctness"])])
    choice = choose_alpha(results)
    assert choice.estimate == "equal-correctness|mean_logprob|none"
    assert choice.alpha == results.estimates[0].alpha
    assert choice.how == "estimate" and "headline" in choice.reason


def test_an_uncontrolled_headline_gives_way_to_the_adjusted_fit(simulated_design):
    results = _results_for(simulated_design, [("all", []), ("all", ["correctness"])], headline="all|mean_logprob|none")
    choice = choose_alpha(results)
    assert choice.estimate == "all|mean_logprob|correctness"
    assert choice.alpha == results.estimates[1].alpha
    assert "does not control for quality" in choice.reason
    assert not is_quality_controlled(results.estimates[0], "correctness")
    assert is_quality_controlled(results.estimates[0], None)  # pairwise data: nothing to control


def test_alpha_options(simulated_design):
    results = _results_for(simulated_design, [(EQUAL_CORRECTNESS, [])])
    record = results.estimates[0]
    assert choose_alpha(results, alpha="ci-low").alpha == record.ci_low
    assert choose_alpha(results, alpha="ci-high").alpha == record.ci_high
    given = choose_alpha(results, alpha="0.25")
    assert given.alpha == 0.25 and given.how == "value" and given.estimate == record.id
    with pytest.raises(TypicalityError, match="ci-low, ci-high or a number"):
        choose_alpha(results, alpha="lots")
    with pytest.raises(TypicalityError, match="finite"):
        choose_alpha(results, alpha="nan")
    with pytest.raises(TypicalityError, match="No estimate 'nope'"):
        choose_alpha(results, estimate="nope")


def test_no_usable_fit_is_one_clear_message(simulated_design):
    tiny = simulated_design.with_frame(simulated_design.frame.head(5))
    results = _results_for(tiny, [(EQUAL_CORRECTNESS, [])])
    with pytest.raises(TypicalityError, match="no usable fit"):
        choose_alpha(results)
    summary = debiasing_summary(tiny, results.estimates, results.headline_estimate, results.correctness)
    assert summary.available is False and "no usable fit" in summary.reason


# --- The model and the per-pair terms -------------------------------------------------------


def test_refitted_control_coefficients_equal_the_adjusted_fit(simulated_design):
    """With alpha = the adjusted fit's own alpha, the offset logit gives back that fit's correctness coefficient."""
    results = _results_for(simulated_design, [("all", ["correctness"])])
    model = fit_debias_model(simulated_design, choose_alpha(results))
    assert model.controls == ["correctness"]
    assert_allclose(model.beta["correctness"], results.estimates[0].coefficients["correctness"]["coef"], rtol=1e-6)
    # Without typicality, correctness absorbs the part of typicality it carries (they correlate positively).
    alone = sm.GLM(simulated_design.frame["label"], simulated_design.frame[["delta_correctness"]], family=sm.families.Binomial()).fit()
    assert_allclose(model.gamma["correctness"], alone.params.iloc[0], rtol=1e-6)


def test_pair_terms_by_hand():
    from typicality.stats.debias import DebiasModel

    model = DebiasModel(
        alpha=0.8, typicality_column="delta_mean_logprob", controls=["correctness"], beta={"correctness": 1.0}, gamma={"correctness": 1.2}, n_pairs_fitted=0
    )
    pairs = pd.DataFrame({"delta_mean_logprob": [1.0, -1.0, 0.5], "delta_correctness": [-1.0, 0.3, np.nan]})
    terms = pair_terms(pairs, model)
    assert_allclose(terms["margin"], [-0.8, 0.8, -0.4])
    assert_allclose(terms["p_first_with_typicality"][:2], [1 / (1 + np.exp(0.2)), 1 / (1 + np.exp(0.5))])
    assert_allclose(terms["p_first_without_typicality"][:2], [1 / (1 + np.exp(1.0)), 1 / (1 + np.exp(-0.3))])
    # Pair 2: typicality favours the second (-0.5 logit), quality the first (+0.3): removing typicality flips it.
    assert terms["flip"].tolist() == [False, True, False]
    assert_allclose(terms["weight"][:2], [expit(-1.2) / expit(-0.2), expit(0.36) / expit(-0.5)])
    assert np.isnan(terms["weight"][2])


def test_margin_loss_with_the_margin_is_the_offset_likelihood():
    """TRL's loss -logsigmoid(r_c - r_r - margin) equals -log P(c wins) under sigmoid(dr_true + alpha dl)."""
    from typicality.stats.debias import DebiasModel

    rng = np.random.default_rng(0)
    delta = rng.normal(size=50)
    true_reward_gap = rng.normal(size=50)
    model = DebiasModel(alpha=0.6, typicality_column="delta_mean_logprob", controls=[], beta={}, gamma={}, n_pairs_fitted=0)
    margin = pair_terms(pd.DataFrame({"delta_mean_logprob": delta}), model)["margin"].to_numpy()
    trl_loss = -np.log(expit(true_reward_gap - margin))
    annotator_loss = -np.log(expit(true_reward_gap + 0.6 * delta))
    assert_allclose(trl_loss, annotator_loss)


def test_reweighing_weights_match_kamiran_calders_counts():
    """No controls, typicality difference +-1: the weights are P(y) P(s) / P(y, s) from the counts (P(y) = 1/2 by symmetry)."""
    rng = np.random.default_rng(1)
    n = 4000
    delta = rng.choice([-1.0, 1.0], size=n)
    label = (rng.random(n) < expit(0.7 * delta)).astype(float)
    frame = pd.DataFrame({"prompt_id": np.arange(n).astype(str), "label": label, "delta_mean_logprob": delta})
    design = PairDesign(frame=frame)
    fit = TypicalityBias("mean_logprob").fit(design).estimate_
    model = fit_debias_model(design, choose_alpha_among([fit], fit, None))
    terms = pair_terms(winner_first(frame, ["delta_mean_logprob"]), model)
    # Oriented winner first, s = +1 means "the more typical response won".
    more_typical_won = winner_first(frame, ["delta_mean_logprob"])["delta_mean_logprob"].to_numpy() > 0
    agreement = more_typical_won.mean()
    assert_allclose(expit(fit.alpha), agreement, rtol=1e-6)  # the saturated no-intercept logit
    expected = np.where(more_typical_won, 0.5 / agreement, 0.5 / (1 - agreement))
    assert_allclose(terms["weight"], expected, rtol=1e-6)
    assert_allclose(terms["weight"].mean(), 1.0, rtol=1e-6)
    assert not terms["flip"].any()  # without controls, removing typicality leaves no preference


def test_reweighing_makes_typicality_independent_of_the_label():
    """Over simulated datasets: the weighted logit's typicality coefficient is ~0, the unweighted one ~alpha."""
    weighted, unweighted = [], []
    for seed in range(30):
        data, scores = simulate(0.6, 200, 4, seed=100 + seed)
        design = build_pairs(data, scores, seed=seed)
        results = _results_for(design, [("all", ["correctness"])])
        model = fit_debias_model(design, choose_alpha(results))
        columns = ["delta_mean_logprob", "delta_correctness"]
        oriented = winner_first(design.frame, columns)
        weights = pair_terms(oriented, model)["weight"].to_numpy()
        # Symmetrise (each pair both ways) so the no-intercept logit sees both outcomes.
        X = np.vstack([oriented.to_numpy(), -oriented.to_numpy()])
        y = np.r_[np.ones(len(oriented)), np.zeros(len(oriented))]
        w = np.r_[weights, weights]
        weighted.append(sm.GLM(y, X, family=sm.families.Binomial(), freq_weights=w).fit().params[0])
        unweighted.append(sm.GLM(y, X, family=sm.families.Binomial()).fit().params[0])
    assert abs(np.mean(weighted)) < 0.05
    assert abs(np.mean(unweighted) - 0.6) < 0.08


# --- The required proof ---------------------------------------------------------------------


def _offset_fit(design: PairDesign, margin: pd.Series, oriented: pd.DataFrame):
    """BT logit of 'chosen wins' on [dl, d correctness] with -margin as offset, SEs clustered by prompt."""
    X = oriented[["delta_mean_logprob", "delta_correctness"]].to_numpy()
    y = np.ones(len(X))
    # y is always 1 in the chosen-first orientation; symmetrising (each pair also as rejected-first,
    # y 0) gives the same likelihood and makes the design two-sided for the solver.
    groups = pd.factorize(design.frame.loc[oriented.index, "prompt_id"])[0]
    Xs, ys, offsets = np.vstack([X, -X]), np.r_[y, 1 - y], np.r_[-margin.to_numpy(), margin.to_numpy()]
    result = sm.GLM(ys, Xs, family=sm.families.Binomial(), offset=offsets).fit(
        cov_type="cluster", cov_kwds={"groups": np.r_[groups, groups], "use_correction": True}
    )
    return result, Xs, ys, offsets, np.r_[groups, groups]


def _cluster_influence(X: np.ndarray, y: np.ndarray, offset: np.ndarray, params: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per cluster, the M-estimator's influence H^-1 s_g (rows: clusters)."""
    mu = expit(X @ params + offset)
    hessian = (X * (mu * (1 - mu))[:, None]).T @ X
    scores = pd.DataFrame(X * (y - mu)[:, None]).groupby(groups).sum().to_numpy()
    return scores @ np.linalg.inv(hessian)


@pytest.mark.slow  # hundreds of simulated datasets (~10 s)
def test_margin_as_offset_recovers_zero_typicality_and_true_quality():
    """Over 200 simulated datasets (alpha 0.5, quality coefficient 1): coverage of 0 and of the true quality coefficient.

    With the true alpha given (`--alpha 0.5`) the offset logit is the true model, so the plain
    clustered CIs cover at the nominal rate: the margin's sign and scale are right. With the
    audit's own headline alpha (equal-correctness slice) the typicality coefficient is
    alpha_adjusted - alpha_headline, and its CI must carry alpha's uncertainty too: a joint cluster
    sandwich of the two fits (stacked influence functions) gives that, and covers 0.
    """
    true_alpha, quality = 0.5, 1.0
    covered = {"true-alpha typicality": 0, "true-alpha quality": 0, "headline typicality": 0, "headline quality": 0, "headline naive typicality": 0}
    n_datasets = 200
    for seed in range(n_datasets):
        data, scores = simulate(true_alpha, 150, 4, seed=1000 + seed, quality_effect=quality)
        design = build_pairs(data, scores, seed=seed)
        results = _results_for(design, [(EQUAL_CORRECTNESS, []), ("all", ["correctness"])])
        oriented = winner_first(design.frame, ["delta_mean_logprob", "delta_correctness"])

        for label, alpha in (("true-alpha", str(true_alpha)), ("headline", None)):
            choice = choose_alpha(results, alpha=alpha)
            margin = pair_terms(oriented, fit_debias_model(design, choice))["margin"]
            result, X, y, offsets, groups = _offset_fit(design, margin, oriented)
            low, high = np.asarray(result.conf_int())[0]
            q_low, q_high = np.asarray(result.conf_int())[1]
            covered[f"{label} quality"] += q_low <= quality <= q_high
            if label == "true-alpha":
                covered["true-alpha typicality"] += low <= 0 <= high
                continue
            covered["headline naive typicality"] += low <= 0 <= high
            # Joint sandwich: the offset fit's typicality coefficient minus the headline alpha's own influence.
            params = np.asarray(result.params)
            offset_influence = _cluster_influence(X, y, offsets, params, groups)[:, 0]
            eq = design.frame[design.frame["delta_correctness"] == 0]
            eq_influence = _cluster_influence(
                eq[["delta_mean_logprob"]].to_numpy(), eq["label"].to_numpy(), np.zeros(len(eq)), np.array([choice.alpha]), pd.factorize(eq["prompt_id"])[0]
            )[:, 0]
            everyone = pd.Series(offset_influence, index=pd.factorize(design.frame.loc[oriented.index, "prompt_id"])[1]).add(
                pd.Series(-eq_influence, index=pd.factorize(eq["prompt_id"])[1]), fill_value=0.0
            )
            g = len(everyone)
            se = np.sqrt(g / (g - 1) * np.sum(everyone.to_numpy() ** 2))
            covered["headline typicality"] += abs(params[0]) <= 1.96 * se
    coverage = {name: count / n_datasets for name, count in covered.items()}
    print(coverage)
    assert 0.91 <= coverage["true-alpha typicality"] <= 0.99, coverage
    assert 0.91 <= coverage["true-alpha quality"] <= 0.99, coverage
    assert 0.91 <= coverage["headline typicality"] <= 0.99, coverage
    assert 0.91 <= coverage["headline quality"] <= 0.99, coverage
