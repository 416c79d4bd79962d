"""Influence on alpha: DFBETA against statsmodels and literal refits, exact vs one-step prompt deletion, CV3."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose

from typicality.audit_folder import INFLUENCE_FILE, read_audit, save_analysis
from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.pipeline import write_influence, write_simulation
from typicality.stats import analyze_with_design, simulate
from typicality.stats.influence import (
    compute_influence,
    cv3,
    influence_estimate,
    pair_dfbeta,
    prompt_deletions,
)
from typicality.stats.pairwise_models import fit_logit as newton_fit
from typicality.stats.typicality_bias import TypicalityBias


def _small_logit(n_prompts: int, pairs_per_prompt: int, seed: int, alpha: float = 0.8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, groups): typicality and one control, labels from the logit, a few ties."""
    rng = np.random.default_rng(seed)
    n = n_prompts * pairs_per_prompt
    X = np.column_stack([rng.normal(0, 1.2, n), rng.integers(-2, 3, n).astype(float)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ np.array([alpha, 0.5]))))).astype(float)
    y[:3] = 0.5
    groups = np.repeat(np.arange(n_prompts), pairs_per_prompt)
    return X, y, groups


def _refit(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.asarray(sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12).params)


def test_newton_matches_statsmodels():
    X, y, _ = _small_logit(50, 3, seed=0)
    fitted = newton_fit(y, X, np.arange(len(y)))
    params, converged = fitted.params, fitted.converged
    assert converged
    assert_allclose(params, _refit(X, y), rtol=1e-8)


def test_pair_dfbeta_is_statsmodels_glm_influence_and_close_to_literal_refits():
    X, y, _ = _small_logit(40, 2, seed=1)
    params = newton_fit(y, X, np.arange(len(y))).params
    dfbeta = pair_dfbeta(X, y, params)
    influence = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12).get_influence()
    assert_allclose(dfbeta, -np.asarray(influence.d_params), rtol=1e-6, atol=1e-12)  # statsmodels: b - b_(i)
    literal = np.array([_refit(np.delete(X, i, axis=0), np.delete(y, i)) - params for i in range(len(y))])
    # One step from the full fit: close to the literal refit, not equal (the logit is not quadratic).
    assert np.corrcoef(dfbeta[:, 0], literal[:, 0])[0, 1] > 0.99
    assert np.max(np.abs(dfbeta[:, 0] - literal[:, 0])) < 0.1 * np.max(np.abs(literal[:, 0]))


def test_exact_prompt_deletion_is_a_literal_refit():
    X, y, groups = _small_logit(30, 4, seed=2)
    params = newton_fit(y, X, np.arange(len(y))).params
    exact, converged = prompt_deletions(X, y, groups, params, exact=True)
    assert converged.all()
    literal = np.array([_refit(X[groups != g], y[groups != g]) for g in range(30)])
    assert_allclose(exact, literal, rtol=1e-7, atol=1e-10)
    # CV3 is the jackknife of those refits.
    centred = literal - params
    assert_allclose(cv3(params, exact), 29 / 30 * centred.T @ centred, rtol=1e-6)


def test_one_step_prompt_deletion_approximates_the_exact_one():
    """The one-step deletion (used beyond EXACT_MAX_PROMPTS prompts) against the exact one, on 1,500 prompts."""
    X, y, groups = _small_logit(1500, 6, seed=3)
    params = newton_fit(y, X, np.arange(len(y))).params
    exact, _ = prompt_deletions(X, y, groups, params, exact=True)
    one_step, _ = prompt_deletions(X, y, groups, params, exact=False)
    change_exact, change_one = exact[:, 0] - params[0], one_step[:, 0] - params[0]
    assert np.corrcoef(change_exact, change_one)[0, 1] > 0.999
    assert np.max(np.abs(change_one - change_exact)) < 0.05 * np.max(np.abs(change_exact))
    # CV3 from either differs by well under 1%.
    assert_allclose(cv3(params, one_step)[0, 0], cv3(params, exact)[0, 0], rtol=0.01)


@pytest.mark.slow  # hundreds of simulated datasets (~10 s)
def test_cv3_interval_covers_the_true_alpha():
    """With few prompts (25, 4 pairs each) over 300 simulated datasets, the CV3 t-interval covers the true alpha ~95%."""
    covered = 0
    n_datasets = 300
    for seed in range(n_datasets):
        X, y, groups = _small_logit(25, 4, seed=100 + seed, alpha=0.8)
        y = (np.random.default_rng(seed).random(len(y)) < 1 / (1 + np.exp(-(X @ np.array([0.8, 0.5]))))).astype(float)
        frame = pd.DataFrame(
            {"prompt_id": groups.astype(str), "label": y, "delta_mean_logprob": X[:, 0], "delta_correctness": X[:, 1], "comparison": np.arange(len(y))}
        )
        design = PairDesign(frame=frame, correctness="correctness")
        estimate = TypicalityBias("mean_logprob", ["correctness"]).fit(design).estimate_
        if not estimate.fitted:
            continue
        row = compute_influence(design, estimate)
        assert row.summary.prompt_method == "exact"
        cv3_row = row.summary.cv3
        covered += cv3_row["ci_low"] <= 0.8 <= cv3_row["ci_high"]
    assert 0.92 <= covered / n_datasets <= 0.99


@pytest.fixture(scope="module")
def audit_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit")
    data, scores = simulate(0.5, 200, 4, seed=11)
    write_simulation(data, scores, folder)
    save_analysis(*analyze_with_design(data, scores), folder)
    return folder


def test_influence_of_the_headline_and_its_top_prompts(audit_folder):
    audit = read_audit(audit_folder, with_data=False)
    estimate = influence_estimate(audit.results)
    result = compute_influence(audit.pairs, estimate)
    summary, table = result.summary, result.table
    assert summary.estimate == "equal-correctness|mean_logprob|none"
    assert_allclose(summary.alpha, estimate.alpha, rtol=1e-8)
    pairs, prompts = table[table["level"] == "pair"], table[table["level"] == "prompt"]
    assert len(pairs) == estimate.n_pairs and len(prompts) == estimate.n_clusters == summary.n_prompts
    assert prompts["n_pairs"].sum() == len(pairs)
    assert_allclose(prompts["change"], prompts["alpha_without"] - estimate.alpha, atol=1e-12)
    assert prompts.sort_values("rank")["change"].abs().is_monotonic_decreasing
    # The prompt with the largest change, left out by hand and refitted by statsmodels.
    top = prompts.sort_values("rank").iloc[0]
    kept = audit.pairs.frame[audit.pairs.frame["prompt_id"] != top["prompt_id"]]
    by_hand = TypicalityBias("mean_logprob", slice="equal-correctness").fit(audit.pairs.with_frame(kept)).estimate_
    assert_allclose(top["alpha_without"], by_hand.alpha, rtol=1e-7)
    # Without the top 1%: those prompts move alpha most towards zero, and the refit is the headline fit without them.
    without = summary.without_top_prompts
    assert without["n_prompts_removed"] == int(np.ceil(0.01 * summary.n_prompts))
    pulls = prompts.set_index("prompt_id")["change"] * np.sign(summary.alpha)
    assert set(without["prompts_removed"]) == set(pulls.nsmallest(without["n_prompts_removed"]).index)
    kept = audit.pairs.frame[~audit.pairs.frame["prompt_id"].isin(without["prompts_removed"])]
    by_hand = TypicalityBias("mean_logprob", slice="equal-correctness").fit(audit.pairs.with_frame(kept)).estimate_
    assert_allclose(without["alpha"], by_hand.alpha, rtol=1e-10)
    assert without["alpha"] < summary.alpha


def test_write_influence_into_the_folder(audit_folder):
    results_before = (audit_folder / "results.json").read_bytes()
    result = write_influence(audit_folder, strict=True)
    assert (audit_folder / "results.json").read_bytes() == results_before  # influence never rewrites the fit's results
    audit = read_audit(audit_folder, with_data=False)
    assert audit.influence_summary == result.summary and audit.influence_summary.available
    assert audit.influence is not None and len(audit.influence) == len(result.table)
    assert set(audit.influence["level"]) == {"pair", "prompt"}


def test_an_audit_without_a_usable_fit(tmp_path):
    data, scores = simulate(0.5, 3, 3, seed=1)
    write_simulation(data, scores, tmp_path)
    save_analysis(*analyze_with_design(data, scores), tmp_path)
    with pytest.raises(TypicalityError, match="was not fitted"):
        write_influence(tmp_path, strict=True)
    assert write_influence(tmp_path) is None
    assert read_audit(tmp_path, with_data=False).influence_summary.available is False
    assert not (tmp_path / INFLUENCE_FILE).exists()
    with pytest.raises(TypicalityError, match="No estimate 'nope'"):
        write_influence(tmp_path, estimate="nope", strict=True)


def test_influence_command(audit_folder, capsys):
    from typicality.cli import main

    assert main(["influence", str(audit_folder), "--exact-max-prompts", "0"]) == 0
    printed = capsys.readouterr().out
    assert "CV3 jackknife SE" in printed and "one-step" in printed and "without the top" in printed
    assert read_audit(audit_folder, with_data=False).influence_summary.prompt_method == "one-step"
    assert main(["influence", str(audit_folder), "--estimate", "nope"]) == 2
    assert "No estimate 'nope'" in capsys.readouterr().err
