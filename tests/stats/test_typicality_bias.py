"""The paper's estimator: the same numbers as the published statsmodels fit, orientation-free, and honest when it cannot fit."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from tests.stats.builders import pairwise, random_pairwise, scores_table
from typicality.errors import TypicalityError
from typicality.stats import TypicalityBias, build_pairs, simulate
from typicality.stats.separation import is_separated

# The paper's table (docs/method.md): odds ratio per SD and win-probability change, per row.
PUBLISHED = [(1.42, 0.17), (1.80, 0.28), (1.47, 0.19), (1.83, 0.29)]


@pytest.fixture(scope="module")
def design():
    data, scores = simulate(0.5, 150, 4, seed=11)
    return build_pairs(data, scores, seed=2)


def published_fit(pairs: pd.DataFrame, columns: list[str], use_t: bool = False):
    """Exactly the published analysis: GLM Binomial, no intercept, clustered by prompt with the small-sample correction."""
    groups = pd.factorize(pairs["prompt_id"])[0]
    return sm.GLM(pairs["label"].to_numpy(float), pairs[columns].to_numpy(float), family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True}, use_t=use_t
    )


@pytest.mark.parametrize(
    "slice_name, typicality, controls, columns",
    [
        ("all", "mean_logprob", [], ["delta_mean_logprob"]),
        ("all", "mean_logprob", ["length"], ["delta_mean_logprob", "delta_log_tokens"]),
        ("all", "mean_logprob", ["correctness"], ["delta_mean_logprob", "delta_correctness"]),
        ("all", "sum_logprob", ["correctness", "length"], ["delta_sum_logprob", "delta_correctness", "delta_log_tokens"]),
        ("equal-correctness", "mean_logprob", [], ["delta_mean_logprob"]),
    ],
)
def test_matches_the_published_statsmodels_fit(design, slice_name, typicality, controls, columns):
    frame = design.frame
    pairs = frame[frame["delta_correctness"] == 0] if slice_name == "equal-correctness" else frame
    reference = published_fit(pairs, columns)
    estimate = TypicalityBias(typicality, controls, slice=slice_name).fit(design).estimate_
    assert estimate.fitted and not estimate.warnings
    assert abs(estimate.alpha - reference.params[0]) < 1e-8
    assert abs(estimate.se - reference.bse[0]) < 1e-8
    # p and CI from t(G - 1): what statsmodels gives with use_t=True for a cluster covariance.
    with_t = published_fit(pairs, columns, use_t=True)
    groups = pairs["prompt_id"].nunique()
    assert with_t.df_resid_inference == groups - 1 == estimate.df
    assert estimate.ci_low == pytest.approx(with_t.conf_int()[0, 0], abs=1e-8)
    assert estimate.ci_high == pytest.approx(with_t.conf_int()[0, 1], abs=1e-8)
    assert estimate.p_value == pytest.approx(with_t.pvalues[0], rel=1e-6)
    # Wider than the normal interval, by the t quantile's excess over 1.96.
    assert estimate.ci_high - estimate.ci_low > 2 * 1.959963984540054 * reference.bse[0]
    assert estimate.n_pairs == len(pairs) and estimate.n_clusters == pairs["prompt_id"].nunique()
    for name, column in zip(controls, columns[1:]):
        assert estimate.coefficients[name]["coef"] == pytest.approx(reference.params[columns.index(column)], abs=1e-8)


def test_derived_figures_follow_their_formulas_and_the_published_table(design):
    estimate = TypicalityBias().fit(design).estimate_
    delta = design.frame["delta_mean_logprob"].to_numpy()
    sd = math.sqrt(np.sum(delta**2) / len(delta))  # SD of the symmetrised differences (mean 0)
    assert estimate.sd_delta == pytest.approx(sd, rel=1e-12)
    assert estimate.odds_ratio_per_sd == pytest.approx(math.exp(estimate.alpha * sd), rel=1e-12)
    assert estimate.win_prob_change == pytest.approx(expit(estimate.alpha * sd) - expit(-estimate.alpha * sd), rel=1e-12)
    # The same formula turns each published odds ratio into its published win-probability change.
    for odds_ratio, change in PUBLISHED:
        assert 2 * expit(math.log(odds_ratio)) - 1 == pytest.approx(change, abs=0.006)


def test_orientation_changes_nothing():
    data, scores = random_pairwise(300, seed=4, alpha=0.8, pairs_per_prompt=2)
    reference = TypicalityBias(controls=["length"]).fit(build_pairs(data, scores, seed=0)).estimate_
    # Another seed orients every pair afresh; flipping half the source pairs changes the input itself.
    reseeded = TypicalityBias(controls=["length"]).fit(build_pairs(data, scores, seed=99)).estimate_
    flipped = data.comparisons.copy()
    swap = np.random.default_rng(7).random(len(flipped)) < 0.5
    flipped.loc[swap, ["response_a", "response_b"]] = flipped.loc[swap, ["response_b", "response_a"]].to_numpy()
    flipped.loc[swap, "label"] = 1.0 - flipped.loc[swap, "label"]
    data.comparisons = flipped
    from_flipped = TypicalityBias(controls=["length"]).fit(build_pairs(data, scores, seed=0)).estimate_
    for other in (reseeded, from_flipped):
        for field in ("alpha", "se", "p_value", "odds_ratio_per_sd", "win_prob_change"):
            assert getattr(other, field) == pytest.approx(getattr(reference, field), rel=1e-9, abs=1e-12)


def test_random_orientation_leaves_no_intercept(design):
    # With an intercept added, it is ~0: the orientation carries no information.
    X = sm.add_constant(design.frame[["delta_mean_logprob", "delta_correctness"]].to_numpy(float))
    fit = sm.GLM(design.frame["label"].to_numpy(float), X, family=sm.families.Binomial()).fit()
    assert abs(fit.params[0]) < 3 * fit.bse[0]


def test_result_api(design):
    model = TypicalityBias("mean_logprob", ["correctness"])
    with pytest.raises(TypicalityError, match="not fitted"):
        model.summary()
    assert model.fit(design) is model
    assert model.alpha_ == model.estimate_.alpha and model.n_pairs_ == len(design)
    frame = model.to_frame()
    assert frame.loc[0, "alpha"] == model.alpha_ and frame.loc[0, "controls"] == "correctness"
    record = model.to_dict()
    assert record["id"] == "all|mean_logprob|correctness"
    json.dumps(record, allow_nan=False)
    assert "alpha = " in model.summary() and "control correctness" in model.summary()
    assert model.get_params()["controls"] == ["correctness"]


def test_cluster_bootstrap_agrees_with_the_sandwich_se(design):
    estimate = TypicalityBias(controls=["correctness"], bootstrap=300, seed=1).fit(design).estimate_
    boot = estimate.bootstrap
    assert boot["n_draws"] == 300 and boot["n_failed"] == 0
    assert boot["se"] == pytest.approx(estimate.se, rel=0.2)
    assert boot["ci_low"] < estimate.alpha < boot["ci_high"]
    again = TypicalityBias(controls=["correctness"], bootstrap=300, seed=1).fit(design).estimate_
    assert again.bootstrap == boot


def no_nan(estimate):
    text = json.dumps(estimate.to_dict(), allow_nan=False)  # raises on NaN or infinity
    return "NaN" not in text


def test_too_few_pairs_or_prompts():
    data, scores = random_pairwise(6, seed=0)
    estimate = TypicalityBias().fit(build_pairs(data, scores)).estimate_
    assert not estimate.fitted and "only 6 pairs" in estimate.reason and estimate.alpha is None and no_nan(estimate)
    data, scores = random_pairwise(3, seed=0, pairs_per_prompt=6)
    estimate = TypicalityBias().fit(build_pairs(data, scores)).estimate_
    assert not estimate.fitted and "only 3 prompts" in estimate.reason and no_nan(estimate)
    data, scores = random_pairwise(20, seed=0)
    estimate = TypicalityBias().fit(build_pairs(data, scores)).estimate_
    assert any("clustered standard errors are unreliable" in w for w in estimate.warnings)


def test_constant_typicality_and_constant_control():
    data, scores = random_pairwise(40, seed=2)
    design = build_pairs(data, scores)
    flat = design.with_frame(design.frame.assign(delta_mean_logprob=0.0))
    estimate = TypicalityBias().fit(flat).estimate_
    assert not estimate.fitted and "constant" in estimate.reason and no_nan(estimate)
    same_length = design.with_frame(design.frame.assign(delta_log_tokens=0.0))
    estimate = TypicalityBias(controls=["length"]).fit(same_length).estimate_
    assert estimate.fitted and estimate.controls == [] and "Control length is constant" in estimate.warnings[0]
    assert estimate.alpha == pytest.approx(TypicalityBias().fit(design).estimate_.alpha, abs=1e-10)


def test_perfect_separation_is_named_not_fitted():
    # Every chosen response is the more typical one: alpha is infinite.
    typicality = {}
    prompts, chosen, rejected = [], [], []
    for p in range(30):
        a, b = f"good {p}", f"bad {p}"
        typicality[a], typicality[b] = -1.0 - p / 100, -2.0 - p / 50
        prompts.append(f"prompt {p}"), chosen.append(a), rejected.append(b)
    data = pairwise(prompts, chosen, rejected)
    design = build_pairs(data, scores_table(data, typicality))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing leaks from statsmodels or numpy either
        estimate = TypicalityBias().fit(design).estimate_
    assert not estimate.fitted and "perfect separation" in estimate.reason and no_nan(estimate)


def test_separation_detector_agrees_with_statsmodels_and_finds_the_quasi_case():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 1))
    y = (x[:, 0] > 0).astype(float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sm.GLM(y, x, family=sm.families.Binomial()).fit()
    assert any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    assert is_separated(y, x)
    noisy = (x[:, 0] + rng.normal(size=60) > 0).astype(float)
    assert not is_separated(noisy, x)
    # Quasi-complete: a second predictor that is non-zero on ten rows only, always on the label's side.
    z = np.zeros(60)
    z[:10] = np.where(noisy[:10] > 0, 1.0, -1.0)
    assert is_separated(noisy, np.column_stack([x[:, 0], z]))


def test_quasi_separation_by_a_control_is_caught_in_the_fit():
    data, scores = random_pairwise(80, seed=5)
    design = build_pairs(data, scores)
    quirk = np.zeros(len(design))
    quirk[:8] = np.where(design.frame["label"].to_numpy()[:8] == 1.0, 1.0, -1.0)
    estimate = TypicalityBias(controls=["quirk"]).fit(design.with_frame(design.frame.assign(delta_quirk=quirk))).estimate_
    assert not estimate.fitted and "perfect separation" in estimate.reason and no_nan(estimate)
    assert TypicalityBias().fit(design).estimate_.fitted


def test_missing_rating_values_are_counted_and_unknown_names_refused(design):
    holey = design.with_frame(design.frame.copy())
    holey.frame.loc[holey.frame.index[:25], "delta_correctness"] = np.nan
    estimate = TypicalityBias(controls=["correctness"]).fit(holey).estimate_
    assert estimate.n_pairs == len(design) - 25
    assert estimate.warnings[0].startswith("25 of")
    with pytest.raises(TypicalityError, match="Unknown control"):
        TypicalityBias(controls=["honesty"]).fit(design)
    with pytest.raises(TypicalityError, match="typicality must be"):
        TypicalityBias("max_logprob").fit(design)
