"""Comparisons that know which data and which annotators: label sources (PKU-style better vs safer), provenance identity,
differing labels refused by a model comparison, simulation ids unique to their settings.

Every number is checked against another computation: each source's separate audit fit, a hand-built stacked
statsmodels GLM with prompt-clustered covariance, and Cohen's kappa counted from the file's two label columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from tests.data.files import write_jsonl
from tests.stats.compare_audits import label_source_audits, noisy_scores, write_audit
from typicality.audit_folder import load_data, load_pairs, load_results
from typicality.cli import main
from typicality.comparison_folder import load_comparison
from typicality.comparison_results import ComparisonResults
from typicality.data import load
from typicality.errors import TypicalityError
from typicality.pipeline import compare
from typicality.stats import simulate


@pytest.fixture(scope="module")
def pku(tmp_path_factory):
    root = tmp_path_factory.mktemp("pku")
    better, safer, scores = label_source_audits(root)
    return {"root": root, "better": better, "safer": safer, "scores": scores, "rows": pd.read_json(root / "pku.jsonl", lines=True)}


@pytest.fixture(scope="module")
def label_comparison(pku):
    return compare([pku["better"], pku["safer"]])


def test_the_same_pairs_with_other_labels_compare_as_label_sources(pku, label_comparison):
    assert label_comparison.kind == "labels"
    assert ComparisonResults.from_dict(json.loads(json.dumps(label_comparison.to_dict()))) == label_comparison
    labels = label_comparison.labels
    assert labels.n_pairs == len(pku["rows"]) == 450
    assert [item.dataset.preference for item in label_comparison.audits] == [
        "better_response_id: 0 = response_a preferred, 1 = response_b preferred",
        "safer_response_id: 0 = response_a preferred, 1 = response_b preferred",
    ]


def test_interaction_alphas_equal_the_separate_fits(pku, label_comparison):
    joint = label_comparison.labels.joint_fit
    separate = [load_results(pku[name]).headline_estimate for name in ("better", "safer")]
    for row, estimate in zip(joint.alphas, separate):
        assert row.alpha == pytest.approx(estimate.alpha, rel=1e-6)
    difference = joint.differences[0]
    assert difference.term == "delta × source[1]"
    assert difference.difference == pytest.approx(separate[1].alpha - separate[0].alpha, rel=1e-6)
    assert separate[0].alpha > 0.5 and separate[1].alpha < separate[0].alpha  # the fixture's better leans on typicality, safer less


def _oriented(folder, reference: pd.DataFrame | None) -> pd.DataFrame:
    """An audit's pairs (label, Δℓ, prompt) in the reference's orientation, written out by hand."""
    rows = load_pairs(folder).frame
    key = [tuple(sorted(pair)) for pair in zip(rows["response_a"], rows["response_b"])]
    rows = rows.assign(key=key).set_index("key")
    if reference is None:
        return rows
    rows = rows.loc[reference.index]
    same = (rows["response_a"] == reference["response_a"]).to_numpy()
    return pd.DataFrame(
        {
            "prompt_id": rows["prompt_id"].to_numpy(),
            "label": np.where(same, rows["label"], 1 - rows["label"]),
            "delta": np.where(same, 1, -1) * rows["delta_mean_logprob"].to_numpy(),
        }
    )


def test_difference_se_matches_a_hand_stacked_glm_with_cluster_covariance(pku, label_comparison):
    reference = _oriented(pku["better"], None)
    first, second = _oriented(pku["better"], reference), _oriented(pku["safer"], reference)
    # Another parametrization of the same model: one alpha column per source (block-diagonal), then the contrast.
    n = len(first)
    X = np.zeros((2 * n, 2))
    X[:n, 0], X[n:, 1] = first["delta"], second["delta"]
    y = np.concatenate([first["label"], second["label"]])
    groups = pd.factorize(np.concatenate([first["prompt_id"], second["prompt_id"]]))[0]
    fit = sm.GLM(y, X, family=sm.families.Binomial()).fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True})
    contrast = np.array([-1.0, 1.0])
    difference = label_comparison.labels.joint_fit.differences[0]
    assert difference.difference == pytest.approx(contrast @ fit.params, rel=1e-6)
    assert difference.se == pytest.approx(np.sqrt(contrast @ fit.cov_params() @ contrast), rel=1e-6)
    assert difference.ci_low == pytest.approx(difference.difference - 1.959964 * difference.se, rel=1e-5)
    # The same pairs make the two alphas correlated: the paired SE differs from the independent one.
    independent = np.sqrt(fit.cov_params()[0, 0] + fit.cov_params()[1, 1])
    assert difference.se_if_independent == pytest.approx(independent, rel=1e-6)


def test_kappa_and_the_share_that_differ_match_a_hand_count_from_the_file(pku, label_comparison):
    rows = pku["rows"]
    better, safer = rows["better_response_id"].to_numpy(), rows["safer_response_id"].to_numpy()
    agree = np.mean(better == safer)
    chance = np.mean(better == 0) * np.mean(safer == 0) + np.mean(better == 1) * np.mean(safer == 1)
    row = label_comparison.labels.agreement[0]
    assert row.n_pairs == len(rows)
    assert row.n_differ == int(np.sum(better != safer))
    assert row.share_differ == pytest.approx(1 - agree)
    assert row.kappa == pytest.approx((agree - chance) / (1 - chance), rel=1e-9)
    assert 0.2 < row.kappa < 0.9  # the fixture copies 60% of the judgements


def test_a_model_comparison_refuses_audits_whose_labels_differ(tmp_path, pku):
    # The safer labels scored by another "model": as a model comparison the labels would silently differ.
    other = write_audit(tmp_path / "safer-other-model", load_data(pku["safer"]), noisy_scores(pku["scores"], 0.2, 4, "other-model"))
    differ = int(np.sum(pku["rows"]["better_response_id"] != pku["rows"]["safer_response_id"]))
    share = f"{differ / len(pku['rows']):.1%}"
    with pytest.raises(TypicalityError, match=rf"label {differ} of their 450 shared pairs differently \({share}\).*--kind labels"):
        compare([pku["better"], other])
    # As label sources they compare, with a warning that the models differ too.
    result = compare([pku["better"], other], kind="labels")
    assert result.kind == "labels" and any("different reference models" in w for w in result.warnings)
    copy = write_audit(tmp_path / "better-copy", load_data(pku["better"]), noisy_scores(pku["scores"], 0.2, 4, "other-model"))
    with pytest.raises(TypicalityError, match="label all 450 of their shared pairs alike: they are not different label sources"):
        compare([pku["better"], copy], kind="labels")


def test_two_files_through_the_pairs_loader_compare_as_datasets(tmp_path):
    """Dataset identity is provenance (each file's sha256), not the loader's name: two files are two datasets."""
    folders = []
    for index, alpha in enumerate((0.2, 0.9)):
        data, scores = simulate(alpha, 120, 2, seed=40 + index)
        text = data.responses.set_index("response_id")
        rows = [
            {"prompt": text.loc[a, "prompt"], "response_a": text.loc[a, "response"], "response_b": text.loc[b, "response"], "label": label}
            for a, b, label in data.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)
        ]
        path = write_jsonl(tmp_path / f"file-{index}.jsonl", rows)
        folders.append(write_audit(tmp_path / f"audit-{index}", load("pairs", data_files=path), scores))
    result = compare(folders)
    assert result.kind == "datasets"
    assert [row.alpha for row in result.datasets.datasets] == pytest.approx([load_results(f).headline_estimate.alpha for f in folders])
    assert not any("share" in warning for warning in result.warnings)  # different simulations share no pair


def test_simulated_ids_are_unique_to_the_simulation():
    first, _ = simulate(0.5, 20, 3, seed=1)
    again, _ = simulate(0.5, 20, 3, seed=1)
    other_seed, _ = simulate(0.5, 20, 3, seed=2)
    other_alpha, _ = simulate(0.4, 20, 3, seed=1)
    ids = set(first.responses["response_id"])
    assert ids == set(again.responses["response_id"])
    assert not ids & set(other_seed.responses["response_id"]) and not ids & set(other_alpha.responses["response_id"])
    assert not set(first.responses["prompt_id"]) & set(other_seed.responses["prompt_id"])


def test_cli_writes_the_label_source_comparison_and_its_report(tmp_path, pku, capsys):
    out = tmp_path / "labels"
    assert main(["compare", str(pku["better"]), str(pku["safer"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Difference safer − better" in printed and "Cohen's κ" in printed and "source × Δℓ interaction" in printed
    # Worded as each audit's headline is: PKU-style pairs carry no quality rating, so the alphas are associations.
    assert "these alphas are associations, not bias estimates" in printed
    content = load_comparison(out)
    assert content.kind == "labels"
    markdown = (out / "comparison.md").read_text(encoding="utf-8")
    html = (out / "comparison.html").read_text(encoding="utf-8")
    assert "Label-source comparison: better, safer" in markdown and "## Label agreement between sources" in markdown
    assert "these alphas are associations, not bias estimates" in markdown
    kappa = f"{content.labels.agreement[0].kappa:.3f}"
    assert kappa in markdown and kappa in html and "alpha_by_source.png" in markdown and "<script" not in html
    assert main(["compare", str(pku["better"]), str(pku["safer"]), "--out", str(tmp_path / "json"), "--json", "--kind", "labels"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"]["n_pairs"] == 450


def test_pairs_judged_several_times_count_with_their_mean_label():
    """Several judgements of one pair by a source (several annotators): its label is their mean, read as a, b or tie."""
    from typicality.stats.compare.labels import label_agreement

    humans = pd.DataFrame({"key": ["p", "p", "p", "q", "q", "r", "s"], "label": [1, 1, 0, 1, 0, 0, 1.0]})  # p: a (2 of 3); q: tie
    judge = pd.DataFrame({"key": ["p", "q", "r", "s"], "label": [1, 0, 0, 0.5]})
    row = label_agreement([humans, judge], ["humans", "judge"])[0]
    # Per pair: humans a, tie, b, a; judge a, b, b, tie -> agree on p and r.
    assert (row.n_pairs, row.n_differ) == (4, 2)
    first, second = np.array(["a", "tie", "b", "a"]), np.array(["a", "b", "b", "tie"])
    agree = np.mean(first == second)
    chance = sum(np.mean(first == c) * np.mean(second == c) for c in ("a", "b", "tie"))
    assert row.kappa == pytest.approx((agree - chance) / (1 - chance), rel=1e-9)
    assert row.table == [[1, 0, 1], [0, 1, 0], [0, 1, 0]]  # rows humans a, b, tie; columns judge a, b, tie


def test_sources_stored_as_two_splits_with_several_judgements_per_pair(tmp_path):
    """mt-bench-human's layout: humans judge each pair several times (split human), a judge once (split gpt4_pair)."""
    import dataclasses

    data, scores = simulate(0.5, 80, 3, seed=7)
    rng = np.random.default_rng(0)
    pairs = data.comparisons

    def noisy(agree):
        return pairs.assign(label=np.where(rng.random(len(pairs)) < agree, pairs["label"], 1 - pairs["label"]))

    three_each = pd.concat([noisy(0.8) for _ in range(3)], ignore_index=True)
    humans = write_audit(tmp_path / "human", dataclasses.replace(data, comparisons=three_each, split="human"), scores)
    judge = write_audit(tmp_path / "judge", dataclasses.replace(data, comparisons=noisy(0.7), split="gpt4_pair"), scores)
    auto = compare([humans, judge])  # two splits are two datasets by provenance; the shared pairs are pointed out
    assert auto.kind == "datasets" and any("share 240 pairs" in w and "--kind labels" in w for w in auto.warnings)
    result = compare([humans, judge], kind="labels")
    labels = result.labels
    slice_pairs = labels.n_pairs
    assert labels.n_judgements == {"human": 3 * slice_pairs, "judge": slice_pairs} and result.warnings == []
    # Every human judgement is in the joint fit: the humans' alpha is their own audit's fit over all of them.
    for row, folder in zip(labels.joint_fit.alphas, (humans, judge)):
        assert row.alpha == pytest.approx(load_results(folder).headline_estimate.alpha, rel=1e-6)
