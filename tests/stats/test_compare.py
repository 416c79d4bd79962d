"""Comparing audits: every number against an independent computation (separate fits, a hand sandwich, scipy, hand DL and Holm)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import binomtest, norm, pearsonr, spearmanr

from tests.stats.compare_audits import dataset_audits, model_audits, noisy_scores, write_audit
from typicality.audit_folder import IN_PROGRESS_FILE, load_results, load_scores, save_analysis
from typicality.cli import main
from typicality.comparison_folder import COMPARISON_FILE, load_comparison
from typicality.comparison_results import ComparisonResults
from typicality.errors import TypicalityError
from typicality.pipeline import compare
from typicality.results import Estimate
from typicality.stats import analyze_with_design, simulate
from typicality.stats.compare.datasets import pool


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory):
    return model_audits(tmp_path_factory.mktemp("models"), prompts=300)


@pytest.fixture(scope="module")
def model_comparison(model_folders):
    return compare(model_folders)


@pytest.fixture(scope="module")
def dataset_folders(tmp_path_factory):
    return dataset_audits(tmp_path_factory.mktemp("datasets"))


def _headline(folder) -> Estimate:
    return load_results(folder).headline_estimate


def _aligned_pairs(folders, estimate):
    """Each audit's headline-slice pairs from pairs.parquet, in the first audit's order and orientation (written out by hand)."""
    from typicality.audit_folder import load_pairs
    from typicality.stats.pair_design import select_slice

    frames = []
    for folder in folders:
        rows = select_slice(load_pairs(folder), estimate.slice)
        key = [tuple(sorted(pair)) for pair in zip(rows["response_a"], rows["response_b"])]
        frames.append(rows.assign(key=key).set_index("key"))
    first = frames[0]
    out = []
    for frame in frames:
        rows = frame.loc[first.index]
        same = (rows["response_a"] == first["response_a"]).to_numpy()
        out.append(
            pd.DataFrame(
                {
                    "prompt_id": rows["prompt_id"].to_numpy(),
                    "label": np.where(same, rows["label"], 1 - rows["label"]),
                    "delta": np.where(same, 1, -1) * rows["delta_mean_logprob"].to_numpy(),
                }
            )
        )
    return out


def test_model_comparison_alphas_equal_the_separate_fits(model_folders, model_comparison):
    assert model_comparison.kind == "models"
    joint = model_comparison.models.joint_fit
    for folder, row in zip(model_folders, joint.alphas):
        separate = _headline(folder)
        assert row.alpha == pytest.approx(separate.alpha, rel=1e-6)
        # One sandwich over twice the rows: its small-sample correction differs from the separate fit's in the 3rd decimal at most.
        assert row.se == pytest.approx(separate.se, rel=5e-3)


def test_wald_difference_se_matches_a_hand_stacked_score_sandwich(model_folders, model_comparison):
    estimate = _headline(model_folders[0])
    pairs = _aligned_pairs(model_folders, estimate)
    groups = pd.factorize(pairs[0]["prompt_id"])[0]
    n_groups = groups.max() + 1
    influence = np.zeros((n_groups, 2))
    for k, frame in enumerate(pairs):
        x, y = frame["delta"].to_numpy(), frame["label"].to_numpy()
        alpha = model_comparison.models.joint_fit.alphas[k].alpha
        p = expit(alpha * x)
        assert abs(np.sum(x * (y - p))) < 1e-6  # alpha solves this model's score equation
        hessian = np.sum(p * (1 - p) * x**2)
        np.add.at(influence[:, k], groups, x * (y - p) / hessian)  # each prompt's influence on alpha_k
    n_rows, n_params = 2 * len(pairs[0]), 2
    correction = n_groups / (n_groups - 1) * (n_rows - 1) / (n_rows - n_params)  # statsmodels' use_correction
    covariance = correction * influence.T @ influence
    se_difference = np.sqrt(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    difference = model_comparison.models.joint_fit.differences[0]
    assert difference.se == pytest.approx(se_difference, rel=1e-6)
    assert difference.difference == pytest.approx(_headline(model_folders[1]).alpha - _headline(model_folders[0]).alpha, rel=1e-6)
    assert difference.p_value == pytest.approx(2 * norm.sf(abs(difference.difference) / se_difference), rel=1e-6)
    # The same pairs make the two alphas strongly correlated: the paired SE is far below the independent one.
    assert difference.se < 0.6 * difference.se_if_independent


def test_typicality_correlations_match_scipy_on_the_scores_files(model_folders, model_comparison):
    a, b = (load_scores(folder).table.set_index("response_id")["mean_logprob"] for folder in model_folders)
    used = pd.Index(model_comparison.typicality["response_id"])
    row = model_comparison.models.correlations[0]
    assert row.n_responses == len(used)
    assert row.response_pearson == pytest.approx(pearsonr(a.loc[used], b.loc[used]).statistic, rel=1e-9)
    assert row.response_spearman == pytest.approx(spearmanr(a.loc[used], b.loc[used]).statistic, rel=1e-9)
    assert row.mean_abs_difference == pytest.approx(float((a.loc[used] - b.loc[used]).abs().mean()), rel=1e-9)
    assert row.max_abs_difference == pytest.approx(float((a.loc[used] - b.loc[used]).abs().max()), rel=1e-9)
    assert 0.8 < row.response_pearson < 1.0  # noise 0.3 on typicality of SD ~0.8


def test_mcnemar_matches_a_hand_count(model_folders, model_comparison):
    pairs = _aligned_pairs(model_folders, _headline(model_folders[0]))
    label = pairs[0]["label"].to_numpy()
    decided = (label != 0.5) & (pairs[0]["delta"].to_numpy() != 0) & (pairs[1]["delta"].to_numpy() != 0)
    agree = [((label == 1) == (frame["delta"].to_numpy() > 0))[decided] for frame in pairs]
    only_a, only_b = int(np.sum(agree[0] & ~agree[1])), int(np.sum(~agree[0] & agree[1]))
    test = model_comparison.models.agreement.mcnemar[0]
    assert (test.only_first_agrees, test.only_second_agrees) == (only_a, only_b)
    assert [row.rate for row in model_comparison.models.agreement.rates] == pytest.approx([agree[0].mean(), agree[1].mean()])
    if only_a + only_b < 25:
        expected = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    else:  # chi-square with continuity correction
        from scipy.stats import chi2

        expected = chi2.sf((abs(only_a - only_b) - 1) ** 2 / (only_a + only_b), 1)
    assert test.p_value == pytest.approx(expected, rel=1e-6)


def test_a_differently_oriented_audit_gives_the_same_comparison(tmp_path, model_folders, model_comparison):
    """Orientation is per audit (seeded); the comparison re-orients to the first audit's, so the answer is unchanged."""
    from typicality.audit_folder import load_data

    other = tmp_path / "model-b-seed-5"
    shutil.copytree(model_folders[1], other)
    data, scores = load_data(other), load_scores(other)
    save_analysis(*analyze_with_design(data, scores, seed=5), other)
    assert not load_results(other).estimates[0].alpha == pytest.approx(0.0)
    again = compare([model_folders[0], other])
    for key in ("alphas", "differences"):
        for before, after in zip(getattr(model_comparison.models.joint_fit, key), getattr(again.models.joint_fit, key)):
            assert after.se == pytest.approx(before.se, rel=1e-9)
    assert again.models.agreement.mcnemar[0].p_value == pytest.approx(model_comparison.models.agreement.mcnemar[0].p_value)


def test_three_models_get_an_equality_test(tmp_path, model_folders):
    from typicality.audit_folder import load_data

    third = write_audit(tmp_path / "model-c", load_data(model_folders[0]), noisy_scores(load_scores(model_folders[0]), 0.5, 9, "noisier"))
    result = compare([*model_folders, third])
    assert len(result.models.joint_fit.differences) == 3
    assert result.models.joint_fit.equality.df == 2
    assert ComparisonResults.from_dict(json.loads(json.dumps(result.to_dict()))) == result  # the typed sections round-trip through JSON


def _hand_dersimonian_laird(effect, variance):
    weights = 1 / variance
    fixed = np.sum(weights * effect) / np.sum(weights)
    q = np.sum(weights * (effect - fixed) ** 2)
    c = np.sum(weights) - np.sum(weights**2) / np.sum(weights)
    tau2 = max(0.0, (q - (len(effect) - 1)) / c)
    star = 1 / (variance + tau2)
    return {"effect": np.sum(star * effect) / np.sum(star), "se": np.sqrt(1 / np.sum(star)), "tau2": tau2, "q": q,
            "i2": max(0.0, (q - (len(effect) - 1)) / q), "fixed": fixed}


@pytest.mark.parametrize(
    "effect, variance",
    [
        (np.array([0.1, 0.5, 0.9, 0.3]), np.array([0.01, 0.02, 0.015, 0.01])),  # heterogeneous: tau² > 0
        (np.array([0.30, 0.32, 0.29]), np.array([0.02, 0.03, 0.025])),  # Q < df: tau² truncated at 0
    ],
)
def test_pooling_matches_a_hand_dersimonian_laird(effect, variance):
    pooled = pool(effect, variance, [f"d{i}" for i in range(len(effect))])
    hand = _hand_dersimonian_laird(effect, variance)
    assert pooled.random.effect == pytest.approx(hand["effect"], rel=1e-9)
    assert pooled.random.se == pytest.approx(hand["se"], rel=1e-9)
    assert pooled.random.ci_low == pytest.approx(hand["effect"] - 1.959964 * hand["se"], rel=1e-5)
    assert pooled.tau2 == pytest.approx(hand["tau2"], abs=1e-12)
    assert pooled.i2 == pytest.approx(hand["i2"], abs=1e-12)
    assert pooled.q == pytest.approx(hand["q"], rel=1e-9)
    assert pooled.fixed.effect == pytest.approx(hand["fixed"], rel=1e-9)


def test_dataset_comparison_effects_holm_and_pooling(dataset_folders):
    result = compare(dataset_folders)
    assert result.kind == "datasets"
    rows = result.datasets.datasets
    headlines = [_headline(folder) for folder in dataset_folders]
    effect = np.array([e.alpha * e.sd_delta for e in headlines])
    variance = np.array([(e.se * e.sd_delta) ** 2 for e in headlines])
    assert [row.effect_per_sd for row in rows] == pytest.approx(effect)
    assert [np.exp(row.effect_per_sd) for row in rows] == pytest.approx([e.odds_ratio_per_sd for e in headlines])
    hand = _hand_dersimonian_laird(effect, variance)
    assert result.datasets.pooled.random.effect == pytest.approx(hand["effect"], rel=1e-9)
    # Holm by hand: sorted p times (m - rank), running maximum, capped at 1.
    p = np.array([e.p_value for e in headlines])
    order = np.argsort(p)
    adjusted = np.minimum(1, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    expected = np.empty_like(p)
    expected[order] = adjusted
    assert [row.p_holm for row in rows] == pytest.approx(expected)
    difference = result.datasets.differences[0]
    assert difference.se == pytest.approx(np.sqrt(variance[0] + variance[1]))
    assert ComparisonResults.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@pytest.fixture
def two_limits(tmp_path):
    """Two audits of one simulated dataset with different prompts (as two --limit runs would be), different models."""
    data, scores = simulate(0.5, 150, 3, seed=1, rating_levels=5)
    small = data.limit(100, seed=0)
    first = write_audit(tmp_path / "all", data, scores)
    second = write_audit(tmp_path / "some", small, noisy_scores(scores, 0.2, 1, "other-model"))
    return first, second


def test_mismatched_inputs_get_one_clear_message(tmp_path, model_folders, dataset_folders, two_limits):
    with pytest.raises(TypicalityError, match="at least two audit folders"):
        compare([model_folders[0]])
    with pytest.raises(TypicalityError, match="same pairs.*only in all"):
        compare(two_limits)
    with pytest.raises(TypicalityError, match="same pairs"):
        compare(dataset_folders[:2], kind="models")
    with pytest.raises(TypicalityError, match="one audit per dataset"):
        compare(model_folders, kind="datasets")
    with pytest.raises(TypicalityError, match="not a folder"):
        compare([model_folders[0], tmp_path / "nowhere"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TypicalityError, match="not a finished audit"):
        compare([model_folders[0], empty])
    unfinished = tmp_path / "unfinished"
    shutil.copytree(model_folders[1], unfinished)
    (unfinished / IN_PROGRESS_FILE).write_text("{}")
    with pytest.raises(TypicalityError, match="unfinished audit"):
        compare([model_folders[0], unfinished])
    same_model = tmp_path / "same-model"
    shutil.copytree(model_folders[0], same_model)
    with pytest.raises(TypicalityError, match="same model"):
        compare([model_folders[0], same_model])


def test_cli_compare_writes_the_folder_and_refuses_to_overwrite(tmp_path, model_folders, model_comparison, capsys):
    out = tmp_path / "comparison"
    assert main(["compare", *map(str, model_folders), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Difference model-b − model-a" in printed and "McNemar" in printed
    content = load_comparison(out)
    assert content == model_comparison and content.typicality.equals(model_comparison.typicality)  # what compare() returned, read back
    assert content.kind == "models" and (out / "comparison.html").exists() and (out / "comparison.md").exists()
    assert main(["compare", *map(str, model_folders), "--out", str(out)]) == 2
    assert "already holds a comparison" in capsys.readouterr().err
    assert main(["compare", str(model_folders[0]), "--out", str(tmp_path / "x")]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["compare", *map(str, model_folders), "--out", str(tmp_path / "json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "models"
    assert (tmp_path / "json" / COMPARISON_FILE).exists()
