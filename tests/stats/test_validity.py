"""The inference layer of results.json: interpretation, E-values, Holm, the alpha-change CI,
clustered agreement, and the simulator's quality proxy; each checked against another computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from tests.stats.builders import random_pairwise
from typicality.results import Estimate
from typicality.stats import agreement_rate, analyze, build_pairs, simulate
from typicality.stats.length_change import alpha_change_interval
from typicality.stats.multiplicity import holm_adjust
from typicality.stats.sensitivity import e_value, odds_ratio_e_values, sensitivity
from typicality.stats.typicality_bias import TypicalityBias


def test_e_values_match_the_published_formula_and_examples():
    # VanderWeele & Ding (2017): RR = 3.9 gives E = 7.26; the CI limit 1.8 gives 3.0.
    assert e_value(3.9) == pytest.approx(7.26, abs=0.005)
    assert e_value(1.8) == pytest.approx(3.0, abs=0.005)
    assert e_value(1 / 3.9) == pytest.approx(e_value(3.9))  # protective effects are inverted first
    assert e_value(1.0) == 1.0
    values = odds_ratio_e_values(2.0, 1.5, 2.7)  # a common outcome: RR = sqrt(OR)
    assert values["risk_ratio"] == pytest.approx(math.sqrt(2.0))
    assert values["e_value"] == pytest.approx(math.sqrt(2) + math.sqrt(math.sqrt(2) * (math.sqrt(2) - 1)))
    assert values["e_value_ci"] == pytest.approx(e_value(math.sqrt(1.5)))
    assert odds_ratio_e_values(1.2, 0.9, 1.6)["e_value_ci"] == 1.0  # the CI holds no effect
    record = sensitivity(Estimate("all", "mean_logprob", [], fitted=True, alpha=0.5, sd_delta=1.0, ci_low=0.2, ci_high=0.8))
    assert record.available and record.odds_ratio_per_sd == pytest.approx(math.exp(0.5))
    assert record.e_value == pytest.approx(e_value(math.sqrt(math.exp(0.5))))
    assert not sensitivity(None).available


def test_holm_adjusts_everything_but_the_pre_specified_headline():
    estimates = [
        Estimate(name, "mean_logprob", [], fitted=p_value is not None, p_value=p_value)
        for name, p_value in (("h", 0.01), ("a", 0.01), ("b", 0.04), ("c", 0.03), ("d", None))
    ]
    adjusted_estimates, record = holm_adjust(estimates, "h|mean_logprob|none")
    # By hand: sorted 0.01, 0.03, 0.04 times 3, 2, 1 -> 0.03, 0.06, max(0.06, 0.04) = 0.06.
    adjusted = {e.slice: e.p_holm for e in adjusted_estimates}
    assert adjusted == {"h": None, "a": pytest.approx(0.03), "b": pytest.approx(0.06), "c": pytest.approx(0.06), "d": None}
    assert record.pre_specified == "h|mean_logprob|none" and record.family == [f"{name}|mean_logprob|none" for name in "abc"]
    assert all(e.p_holm is None for e in estimates)  # the input rows are left as they were


def test_the_alpha_change_bootstrap_refits_both_models_on_the_same_resampled_prompts():
    data, scores = simulate(0.5, 80, 4, seed=4)
    design = build_pairs(data, scores)
    estimate = TypicalityBias(slice="equal-correctness").fit(design).estimate_
    result = alpha_change_interval(design, estimate, n_draws=5, seed=3)
    # The same five draws by hand, with statsmodels.
    pairs = design.frame[design.frame["delta_correctness"] == 0]
    codes = pd.factorize(pairs["prompt_id"].astype(str))[0]
    members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
    rng = np.random.default_rng(3)
    differences = []
    for _ in range(5):
        rows = np.concatenate([members[g] for g in rng.integers(0, len(members), size=len(members))])
        sample = pairs.iloc[rows]
        fits = [
            sm.GLM(sample["label"], sample[columns], family=sm.families.Binomial()).fit().params.iloc[0]
            for columns in (["delta_mean_logprob"], ["delta_mean_logprob", "delta_log_tokens"])
        ]
        differences.append(fits[1] - fits[0])
    assert result["n_failed"] == 0 and result["n_draws"] == 5
    assert result["se"] == pytest.approx(np.std(differences, ddof=1), rel=1e-6)
    assert result["ci_low"] == pytest.approx(np.percentile(differences, 2.5), rel=1e-6)


def test_results_json_carries_the_interpretation_and_the_report_keys():
    rated, rated_scores = simulate(0.5, 60, 4, seed=5)
    results = analyze(rated, rated_scores, change_draws=50)
    assert results.interpretation.kind == "bias" and results.interpretation.quality_control == "correctness"
    assert results.interpretation.label == "bias estimate controlled for correctness"
    change = results.headline.alpha_change
    assert change.n_draws == 50 and change.ci_low <= change.ci_high
    assert results.sensitivity.estimate == results.headline.estimate
    assert results.multiplicity.pre_specified == results.headline.estimate
    assert all(e.df == e.n_clusters - 1 for e in results.estimates if e.fitted)
    pairwise, pairwise_scores = random_pairwise(40, seed=1)
    association = analyze(pairwise, pairwise_scores, change_draws=0).interpretation
    assert association.kind == "association" and association.quality_control is None
    assert association.label == "association (no quality control: preference and typicality may share quality)"
    assert association.few_prompts and "40 prompts" in association.ci_note


def test_agreement_gets_a_clustered_interval_when_prompts_carry_several_pairs():
    data, scores = random_pairwise(60, seed=2)
    design = build_pairs(data, scores)
    single = agreement_rate(design)
    assert single.clustered is None and single.n_prompts == 60
    # Every pair three times under its prompt: the rate is unchanged and the clustered variance is 3 x the
    # naive one of the copies (times G/(G-1)), since copies are perfectly correlated.
    tripled = design.with_frame(pd.concat([design.frame] * 3, ignore_index=True))
    result = agreement_rate(tripled)
    assert result.rate == pytest.approx(single.rate)
    n = result.n_pairs
    naive_variance = result.rate * (1 - result.rate) / n
    assert result.clustered["se"] ** 2 == pytest.approx(3 * naive_variance * 60 / 59, rel=1e-9)
    assert result.clustered["design_effect"] == pytest.approx(3 * 60 / 59, rel=1e-9)
    assert result.clustered["ci_high"] - result.clustered["ci_low"] > single.ci_high - single.ci_low - 0.02
    one = agreement_rate(tripled, one_pair_per_prompt=True, seed=1)
    assert one.n_pairs == 60 and one.clustered is None and one.one_pair_per_prompt


def test_the_coarse_quality_proxy_biases_alpha_upward():
    """Correctness as a quintile of continuous quality (no noise): the adjusted fit leaves quality in alpha (about 0.55 for 0.5)."""
    exact = simulate(0.5, 2000, 4, seed=6)[0]
    proxy_data, proxy_scores = simulate(0.5, 10000, 4, seed=7, correctness_noise=0.0)
    assert sorted(proxy_data.responses["correctness"].unique()) == [0.0, 1.0, 2.0, 3.0, 4.0]
    shares = proxy_data.responses["correctness"].value_counts(normalize=True)
    assert shares.between(0.17, 0.23).all()  # quintiles
    assert "noisy quintile" in proxy_data.accounting.notes[0] and "true quality" in exact.accounting.notes[0]
    design = build_pairs(proxy_data, proxy_scores)
    adjusted = TypicalityBias(controls=["correctness"]).fit(design).estimate_
    assert adjusted.ci_low > 0.5  # 0.557 (CI 0.531 to 0.583); the 1,000-dataset mean is 0.553 (docs/validity.md)
    noisy = build_pairs(*simulate(0.5, 10000, 4, seed=7, correctness_noise=1.0))
    assert TypicalityBias(controls=["correctness"]).fit(noisy).estimate_.ci_low > adjusted.ci_high  # more noise, more bias
