"""Reading an audit folder: what is required, what may be missing, and the pair orientation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from typicality.data.storage import load_preference_data
from typicality.errors import TypicalityError
from typicality.report.folder import (
    controls_of,
    curve_estimate,
    decisive_pairs,
    delta_column,
    headline_estimate,
    length_controlled_estimate,
    number,
    read_audit_folder,
    slice_pairs,
)


def test_a_full_folder_reads_every_file(audit_dir):
    audit = read_audit_folder(audit_dir)
    assert audit.missing == {}
    assert audit.pairs is not None and audit.scores is not None and audit.data is not None
    assert audit.scoring["model"] == "gemma-3-270m"
    assert audit.results == json.loads((audit_dir / "results.json").read_text())


def test_a_folder_without_results_is_refused_with_the_fix(tmp_path):
    (tmp_path / "scores.parquet").write_bytes(b"")
    with pytest.raises(TypicalityError, match=r"no results\.json.*typicality audit DATASET --out"):
        read_audit_folder(tmp_path)
    with pytest.raises(TypicalityError, match="is not a folder"):
        read_audit_folder(tmp_path / "absent")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_broken_results_file_is_refused_naming_it(audit_dir, text):
    (audit_dir / "results.json").write_text(text)
    with pytest.raises(TypicalityError, match=r"results\.json"):
        read_audit_folder(audit_dir)


def test_missing_and_unreadable_files_are_recorded_not_fatal(audit_dir):
    (audit_dir / "scores.parquet").unlink()
    (audit_dir / "pairs.parquet").write_bytes(b"not parquet")
    (audit_dir / "responses.parquet").unlink()
    audit = read_audit_folder(audit_dir)
    assert audit.scores is None and audit.pairs is None and audit.data is None
    assert audit.missing["scores.parquet"] == "absent"
    assert audit.missing["pairs.parquet"].startswith("unreadable")
    assert "responses.parquet" in audit.missing["dataset.json"]


@pytest.mark.parametrize("value", [None, float("nan"), float("inf"), "abc", True, [1]])
def test_number_rejects_what_is_not_a_finite_number(value):
    assert number(value) is None


def test_number_keeps_finite_numbers():
    assert number(0) == 0.0 and number("0.25") == 0.25 and number(np.float32(1.5)) == 1.5


def test_controls_are_read_in_any_stored_form():
    assert controls_of({}) == [] and controls_of({"controls": None}) == [] and controls_of({"controls": "none"}) == []
    assert controls_of({"controls": "delta_log_tokens"}) == ["delta_log_tokens"]
    assert controls_of({"controls": ["a", "b"]}) == ["a", "b"]


def test_headline_is_mean_typicality_without_controls_on_all_pairs():
    estimates = [
        {"slice": "equal_correctness", "typicality": "mean_logprob", "controls": [], "alpha": 1},
        {"slice": "all", "typicality": "sum_logprob", "controls": [], "alpha": 2},
        {"slice": "all", "typicality": "mean_logprob", "controls": ["delta_log_tokens"], "alpha": 3},
        {"slice": "all", "typicality": "mean_logprob", "controls": [], "alpha": 4},
        {"slice": "all", "typicality": "mean_logprob", "controls": ["delta_log_tokens", "delta_correctness"], "alpha": 5},
    ]
    results = {"estimates": estimates}
    assert headline_estimate(results)["alpha"] == 4
    assert length_controlled_estimate(results, estimates[3])["alpha"] == 3
    assert headline_estimate({"estimates": estimates[:1]})["alpha"] == 1
    assert headline_estimate({"estimates": None}) is None and headline_estimate({}) is None
    assert length_controlled_estimate(results, estimates[0]) is None
    adjusted = [
        {"slice": "all", "typicality": "mean_logprob", "controls": ["correctness"], "alpha": 6},
        {"slice": "all", "typicality": "mean_logprob", "controls": ["length"], "alpha": 7},
        {"slice": "all", "typicality": "mean_logprob", "controls": ["correctness", "length"], "alpha": 8},
    ]
    assert length_controlled_estimate({"estimates": adjusted}, adjusted[0])["alpha"] == 8


def test_the_headline_results_json_declares_wins():
    estimates = [
        {"id": "equal-correctness|mean_logprob|none", "slice": "equal-correctness", "typicality": "mean_logprob", "controls": [], "fitted": False, "alpha": None},
        {"id": "all|mean_logprob|correctness", "slice": "all", "typicality": "mean_logprob", "controls": ["correctness"], "fitted": True, "alpha": 1.0},
        {"id": "all|mean_logprob|correctness+length", "slice": "all", "typicality": "mean_logprob", "controls": ["correctness", "length"], "fitted": True, "alpha": 2.0},
        {"id": "all|mean_logprob|none", "slice": "all", "typicality": "mean_logprob", "controls": [], "fitted": True, "alpha": 3.0},
    ]
    results = {"estimates": estimates, "headline": {"estimate": estimates[1]["id"], "length_controlled": estimates[2]["id"]}}
    assert headline_estimate(results) is estimates[1]
    assert length_controlled_estimate(results, estimates[1]) is estimates[2]
    assert curve_estimate(results) is estimates[3]  # the curve needs a fit without controls
    results["headline"] = {"estimate": "no such id"}
    assert headline_estimate(results) is estimates[3]


def test_preferred_minus_rejected_matches_the_unoriented_comparisons(audit_dir):
    """The random orientation is undone: Δ per pair equals preferred minus rejected from the data itself."""
    audit = read_audit_folder(audit_dir)
    decisive = decisive_pairs(audit.pairs, delta_column(audit.pairs, "mean_logprob"))
    data = load_preference_data(audit_dir)
    mean = dict(zip(audit.scores["response_id"], audit.scores["mean_logprob"]))
    expected = {}
    for row in data.comparisons.itertuples():
        if row.label == 0.5:
            continue
        preferred, rejected = (row.response_a, row.response_b) if row.label == 1 else (row.response_b, row.response_a)
        expected[(preferred, rejected)] = mean[preferred] - mean[rejected]
    got = {(row.preferred_id, row.rejected_id): row.delta_preferred for row in decisive.itertuples()}
    assert got.keys() == expected.keys()
    np.testing.assert_allclose([got[key] for key in expected], list(expected.values()), rtol=0, atol=1e-12)


def test_ties_and_missing_deltas_are_left_out():
    pairs = pd.DataFrame({"label": [1.0, 0.0, 0.5, 1.0], "delta_mean_logprob": [0.5, 0.5, 0.3, np.nan]})
    decisive = decisive_pairs(pairs, "delta_mean_logprob")
    assert decisive["delta_preferred"].tolist() == [0.5, -0.5]


def test_slices_are_selected_as_the_stats_stage_names_them():
    pairs = pd.DataFrame({"delta_correctness": [0.0, 1.0, 0.0, -2.0], "subset": ["a", "b", "a", "a"], "label": [1, 0, 1, 0]})
    assert slice_pairs(pairs, "all", None) is pairs and slice_pairs(pairs, None, None) is pairs
    assert slice_pairs(pairs, "equal-correctness", "correctness").index.tolist() == [0, 2]
    assert slice_pairs(pairs, "equal_correctness", "correctness").index.tolist() == [0, 2]
    assert slice_pairs(pairs, "subset=a", None).index.tolist() == [0, 2, 3]
    assert slice_pairs(pairs, "equal-correctness", None) is None  # no correctness rating named: cannot tell
    assert slice_pairs(pairs, "domain=x", None) is None and slice_pairs(pairs, "mystery", None) is None
