"""Per-group alphas with partial pooling (stats/groups.py): each number against the same number computed another way,
and the validation claims of docs/groups.md at reduced size."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.stats import chi2, norm
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests

from typicality.errors import TypicalityError
from typicality.results import AuditResults
from typicality.stats import analyze, build_pairs, simulate
from typicality.stats.groups import (
    OTHER_GROUP,
    fit_groups,
    generalized_q,
    grouped_logit,
    holm,
    pool_small_groups,
    q_profile_interval,
    random_effects,
    stage2_variance,
    tau2_dersimonian_laird,
    tau2_paule_mandel,
)
from typicality.stats.groups_simulation import validate
from typicality.stats.pairwise_logit import PairwiseLogit, PairwiseSpec


@pytest.fixture(scope="module")
def grouped_design():
    data, scores = simulate(0.8, 480, 4, seed=3, groups=8, group_sd=0.4)
    return build_pairs(data, scores), scores.card.true_group_alphas


def test_the_simulator_writes_one_annotator_per_prompt_and_keeps_the_ungrouped_stream():
    data, scores = simulate(0.5, 30, 4, seed=2, groups=4, group_sd=0.3)
    comparisons = data.comparisons
    assert comparisons.groupby("prompt_id")["annotator"].nunique().max() == 1
    assert sorted(comparisons["annotator"].unique()) == ["annotator-001", "annotator-002", "annotator-003", "annotator-004"]
    assert set(scores.card.true_group_alphas) == set(comparisons["annotator"])
    plain, plain_scores = simulate(0.5, 30, 4, seed=2)
    # group_sd 0: every annotator has the same slope, and the draws are those of the plain simulation
    same, same_scores = simulate(0.5, 30, 4, seed=2, groups=4)
    assert np.array_equal(same.responses["helpfulness"], plain.responses["helpfulness"])
    assert np.array_equal(same_scores.table["mean_logprob"], plain_scores.table["mean_logprob"])
    assert "annotator" not in plain.comparisons.columns
    with pytest.raises(TypicalityError, match="--group-sd needs --groups"):
        simulate(0.5, 30, 4, group_sd=0.2)
    with pytest.raises(TypicalityError, match="--groups must be between"):
        simulate(0.5, 30, 4, groups=31)


def test_each_groups_fit_is_the_pairwise_logit_on_that_groups_pairs(grouped_design):
    design, _ = grouped_design
    spec = PairwiseSpec(controls=("correctness", "length"))
    model = PairwiseLogit(design, spec)
    codes, names = pd.factorize(model.rows["annotator"], sort=True)
    fits = grouped_logit(model.y, model.X, codes, model.groups)
    for g, name in enumerate(names):
        alone = PairwiseLogit(design, PairwiseSpec(slice=f"annotator={name}", controls=spec.controls)).fit()
        assert fits.params[g] == pytest.approx(alone.params, rel=1e-7, abs=1e-9)
        assert fits.cov[g] == pytest.approx(alone.cov, rel=1e-6, abs=1e-12)
        assert fits.n_clusters[g] == alone.n_clusters and fits.n_pairs[g] == alone.n_pairs
        assert fits.model_variance[g] == pytest.approx(np.linalg.inv(alone.statsmodels.model.hessian(alone.params) * -1)[0, 0], rel=1e-6)
    assert fits.converged.all()


def test_tau_q_and_i_squared_agree_with_statsmodels_meta_analysis():
    rng = np.random.default_rng(4)
    v = rng.uniform(0.02, 0.2, size=15)
    y = 0.7 + rng.normal(0, 0.3, size=15) + rng.normal(0, np.sqrt(v))
    for method, ours in (("pm", tau2_paule_mandel), ("dl", tau2_dersimonian_laird)):
        assert ours(y, v) == pytest.approx(combine_effects(y, v, method_re=method).tau2, rel=1e-6)
    reference = combine_effects(y, v, method_re="pm")
    effects = random_effects(y, v)
    assert effects.q == pytest.approx(reference.q, rel=1e-10)
    assert effects.i_squared == pytest.approx(reference.i2, rel=1e-10)
    assert effects.q_p_value == pytest.approx(chi2.sf(reference.q, 14))
    assert effects.tau ** 2 == pytest.approx(reference.tau2, rel=1e-6)
    # the Q-profile bounds: Q(tau^2) crosses the chi-square quantiles there (solved here on the tau scale instead)
    low, high = q_profile_interval(y, v)
    assert high > 0
    for bound, quantile in ((low, chi2.ppf(0.975, 14)), (high, chi2.ppf(0.025, 14))):
        if generalized_q(0.0, y, v) <= quantile:  # the bound is at the boundary
            assert bound == 0.0
            continue
        tau = brentq(lambda t: generalized_q(t * t, y, v) - quantile, 0.0, 10.0, xtol=1e-12)
        assert np.sqrt(bound) == pytest.approx(tau, rel=1e-6)
    assert low <= effects.tau ** 2 <= high


def test_pooled_alphas_are_the_tau_integrated_posterior_computed_by_quadrature():
    y = np.array([0.2, 0.9, 1.4, 0.6, 0.75])
    v = np.array([0.09, 0.04, 0.16, 0.05, 0.1])
    effects = random_effects(y, v)

    def restricted_likelihood(tau):
        w = 1 / (v + tau * tau)
        mu = np.sum(w * y) / np.sum(w)
        return np.exp(0.5 * (np.sum(np.log(w)) - np.log(np.sum(w)) - np.sum(w * (y - mu) ** 2)))

    def given_tau(tau, g):
        w = 1 / (v + tau * tau)
        mu, mu_var = np.sum(w * y) / np.sum(w), 1 / np.sum(w)
        keep = tau * tau / (tau * tau + v[g])
        return keep * y[g] + (1 - keep) * mu, keep * v[g] + (1 - keep) ** 2 * mu_var

    upper = 3 * max(np.sqrt(q_profile_interval(y, v, 0.999)[1]), np.std(y), np.sqrt(np.median(v)))
    total = quad(restricted_likelihood, 0, upper, limit=200)[0]
    for g in range(len(y)):
        mean = quad(lambda t: restricted_likelihood(t) * given_tau(t, g)[0], 0, upper, limit=200)[0] / total

        def cdf(x):
            return quad(lambda t: restricted_likelihood(t) * norm.cdf((x - given_tau(t, g)[0]) / np.sqrt(given_tau(t, g)[1])), 0, upper, limit=200)[0] / total

        assert effects.pooled[g] == pytest.approx(mean, abs=2e-3)
        assert cdf(effects.pooled_low[g]) == pytest.approx(0.025, abs=1e-3)
        assert cdf(effects.pooled_high[g]) == pytest.approx(0.975, abs=1e-3)
        assert effects.pooled_low[g] < effects.pooled[g] < effects.pooled_high[g]
    # shrinkage: every pooled alpha lies between its own estimate and the population's
    assert np.all((effects.pooled - y) * (effects.pooled - effects.mu) <= 1e-12)


def test_holm_and_the_stage2_variance():
    p = np.random.default_rng(0).uniform(size=40) ** 3
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    # +-1.96 root of the stage-2 variance is the group's own t(G - 1) interval
    assert np.sqrt(stage2_variance(np.array([0.5]), np.array([11]), np.array([0.2])))[0] * 1.959964 == pytest.approx(0.5 * 2.228139, rel=1e-5)
    assert stage2_variance(np.array([0.5]), np.array([11]), np.array([0.4]))[0] == 0.4  # the model-based variance when larger


def test_small_groups_are_pooled_named_and_counted():
    labels = pd.Series(["a"] * 40 + ["b"] * 35 + ["c"] * 5 + ["d"] * 8)
    pooled, names = pool_small_groups(labels, 30)
    assert names == ["d", "c"]
    assert (pooled == OTHER_GROUP).sum() == 13 and set(pooled) == {"a", "b", OTHER_GROUP}


def test_fit_groups_reports_population_tau_and_groups(grouped_design):
    design, truth = grouped_design
    groups = fit_groups(design, "annotator", PairwiseSpec(controls=("correctness",)), "all|mean_logprob|correctness", min_pairs=30)
    assert groups.available and groups.n_groups == 8 and groups.n_pooled_groups == 0
    raw = np.array([g.alpha for g in groups.groups])
    model = PairwiseLogit(design, PairwiseSpec(controls=("correctness",)))
    codes, _ = pd.factorize(model.rows["annotator"], sort=True)
    fits = grouped_logit(model.y, model.X, codes, model.groups)
    assert raw == pytest.approx(fits.alpha)
    effects = random_effects(raw, stage2_variance(fits.se, fits.n_clusters, fits.model_variance))
    assert groups.population_alpha == pytest.approx(effects.mu) and groups.tau == pytest.approx(effects.tau)
    assert [g.pooled_alpha for g in groups.groups] == pytest.approx(list(effects.pooled))
    assert groups.n_differing == sum(g.differs for g in groups.groups)
    assert groups.tau_ci_low <= groups.tau <= groups.tau_ci_high
    with pytest.raises(TypicalityError, match="no column 'judge'"):
        fit_groups(design, "judge", PairwiseSpec(), "x")


def test_analyze_by_adds_a_groups_section_that_round_trips_and_is_absent_without_it(grouped_design):
    data, scores = simulate(0.8, 300, 4, seed=5, groups=6, group_sd=0.3)
    plain = analyze(data, scores, change_draws=0)
    assert plain.groups is None and "groups" not in plain.to_dict() and "by" not in plain.settings
    results = analyze(data, scores, change_draws=0, by="annotator", min_group_pairs=40)
    assert results.groups.estimate == results.headline.estimate and results.groups.min_pairs == 40
    assert results.settings["by"] == "annotator"
    content = json.loads(json.dumps(results.to_dict()))
    assert AuditResults.from_dict(content).to_dict() == content
    # every number of the groups section but the groups' own fits is the same with or without the others in `analyze`
    assert [e.to_dict() for e in results.estimates] == [e.to_dict() for e in plain.estimates]
    with pytest.raises(TypicalityError, match="--by annotators: the comparisons have no column"):
        analyze(data, scores, change_draws=0, by="annotators")


def test_a_large_pool_of_small_groups_is_one_group_outside_stage2():
    data, scores = simulate(0.8, 400, 4, seed=6, groups=5, group_sd=0.2)
    comparisons = data.comparisons.copy()
    small = comparisons.index[:60]  # 10 prompts' pairs spread over 12 one-off annotators
    comparisons.loc[small, "annotator"] = [f"once-{i % 12}" for i in range(60)]
    data.comparisons = comparisons
    results = analyze(data, scores, change_draws=0, by="annotator", slices=["all"], controls=["correctness"])
    groups = results.groups
    assert groups.n_pooled_groups == 12 and len(groups.pooled_groups) == 12
    other = next(g for g in groups.groups if g.name == OTHER_GROUP)
    assert other.pooled_alpha is None and other.n_pairs == 60
    assert groups.q_df == groups.n_groups - 1 == 4


def test_the_heterogeneity_test_keeps_its_size_at_tau_zero():
    """docs/groups.md at reduced size (600 datasets of 10 annotators x 150 pairs, tau = 0): Cochran's Q rejects at most 6%
    at the 5% level, tau's Q-profile CI holds 0 in at least 93%, and the pooled intervals do not undercover."""
    result = validate(600, 10, 150, 0.8, 0.0, seed=11)
    assert result.rejection_rate <= 0.06
    assert result.coverage_tau >= 0.93
    assert result.coverage_pooled >= 0.95


def test_pooled_intervals_cover_93_to_97_percent_averaged_over_groups():
    """docs/groups.md at reduced size (300 datasets of 20 annotators x 90 pairs, tau = 0.3): the pooled intervals cover
    93-97% averaged over groups, where plug-in empirical Bayes falls short; tau's CI holds tau about 95%; pooling lowers the error."""
    result = validate(300, 20, 90, 0.8, 0.3, seed=11)
    assert 0.93 <= result.coverage_pooled <= 0.97
    assert result.coverage_plugin < 0.9
    assert 0.92 <= result.coverage_tau <= 0.98
    assert result.rejection_rate > 0.25
    assert result.rmse_pooled < result.rmse_raw


def test_a_separated_group_is_named_with_its_reason_and_left_out_of_stage2(grouped_design):
    design, _ = grouped_design
    frame = design.frame.copy()
    chosen = frame["annotator"] == "annotator-003"
    frame.loc[chosen, "label"] = (frame.loc[chosen, "delta_mean_logprob"] > 0).astype(float)  # typicality decides every label
    groups = fit_groups(design.with_frame(frame), "annotator", PairwiseSpec(), "all|mean_logprob|none")
    separated = next(g for g in groups.groups if g.name == "annotator-003")
    assert not separated.fitted and separated.reason.startswith("perfect separation") and separated.pooled_alpha is None
    assert groups.q_df == 6 and sum(g.pooled_alpha is not None for g in groups.groups) == 7


def test_a_column_of_one_off_values_pools_everything_and_says_why_no_pooling_ran(grouped_design):
    design, _ = grouped_design
    frame = design.frame.copy()
    frame["annotator"] = [f"user-{i}" for i in range(len(frame))]  # a free-text column: every pair its own group
    groups = fit_groups(design.with_frame(frame), "annotator", PairwiseSpec(), "all|mean_logprob|none")
    assert not groups.available and "only 0 groups of 'annotator' have at least 30 pairs" in groups.reason
    assert groups.n_pooled_groups == len(frame) and groups.n_groups == 0
    assert [g.name for g in groups.groups] == [OTHER_GROUP] and groups.groups[0].n_pairs == len(frame)
