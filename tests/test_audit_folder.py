"""The audit-folder contract: every file round-trips, other versions are refused, and reading it loads no torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from typicality.audit_folder import (
    FORMAT_VERSION,
    PAIRS_FILE,
    RESULTS_FILE,
    SCORES_FILE,
    load_data,
    load_pairs,
    load_results,
    load_scores,
    read_audit,
    save_analysis,
    save_data,
    save_results,
    save_scores,
    score_card_path,
)
from typicality.domain import ScoreResult
from typicality.errors import TypicalityError
from typicality.stats import analyze, analyze_with_design, simulate


@pytest.fixture(scope="module")
def simulated():
    return simulate(0.5, 40, 3, seed=2)


def test_data_round_trips_with_every_field(tmp_path, simulated):
    data, _ = simulated
    data.provenance = [{"kind": "file", "path": "/x/test.jsonl", "sha256": "ab" * 32, "bytes": 10}]
    save_data(data, tmp_path)
    back = load_data(tmp_path)
    pd.testing.assert_frame_equal(back.responses, data.responses)
    pd.testing.assert_frame_equal(back.comparisons, data.comparisons)
    for name in ("name", "kind", "rating_columns", "correctness", "preference", "preference_rating", "provenance"):
        assert getattr(back, name) == getattr(data, name), name
    assert back.accounting.to_dict() == data.accounting.to_dict()


def test_scores_and_their_card_round_trip(tmp_path, simulated):
    _, scores = simulated
    path = save_scores(scores, tmp_path / SCORES_FILE)
    assert score_card_path(path).name == "scores.card.json"
    back = load_scores(tmp_path)  # a folder finds its scores.parquet
    pd.testing.assert_frame_equal(back.table, scores.table)
    assert back.card == scores.card
    # Without the parquet's embedded card, the card beside it is read; without either, an empty card.
    back.table.to_parquet(path, index=False)
    assert load_scores(path).card == scores.card
    score_card_path(path).unlink()
    assert load_scores(path).card == {}


def test_bad_scores_files_are_named(tmp_path):
    with pytest.raises(TypicalityError, match="No scores file"):
        load_scores(tmp_path / "missing.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(TypicalityError, match="not a readable parquet"):
        load_scores(tmp_path / "bad.parquet")
    pd.DataFrame({"response_id": ["a"]}).to_parquet(tmp_path / "thin.parquet")
    with pytest.raises(TypicalityError, match="lacks n_tokens"):
        load_scores(tmp_path / "thin.parquet")


def test_the_pair_design_round_trips_with_its_metadata(tmp_path, simulated):
    data, scores = simulated
    results, built = analyze_with_design(data, scores)
    save_analysis(results, built, tmp_path)
    design = load_pairs(tmp_path)
    pd.testing.assert_frame_equal(design.frame, built.frame)
    assert design.settings() == built.settings()
    # A parquet without the design's metadata is not taken for one.
    design.frame.to_parquet(tmp_path / PAIRS_FILE, index=False)
    with pytest.raises(TypicalityError, match="not a pair design written by this version"):
        load_pairs(tmp_path)


def test_results_carry_the_format_version_and_other_versions_are_refused(tmp_path, simulated):
    data, scores = simulated
    results = analyze(data, scores)
    save_results(results, tmp_path)
    assert json.loads((tmp_path / RESULTS_FILE).read_text())["format_version"] == FORMAT_VERSION
    assert load_results(tmp_path).to_dict() == results.to_dict()  # the typed results come back field for field
    stored = json.loads((tmp_path / RESULTS_FILE).read_text())
    stored["format_version"] = FORMAT_VERSION - 1
    (tmp_path / RESULTS_FILE).write_text(json.dumps(stored))
    with pytest.raises(
        TypicalityError, match=rf"another version of typicality \(format {FORMAT_VERSION - 1}, this version reads {FORMAT_VERSION}\): re-run `typicality fit"
    ):
        load_results(tmp_path)
    (tmp_path / RESULTS_FILE).write_text("{not json")
    with pytest.raises(TypicalityError, match="not valid JSON"):
        load_results(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TypicalityError, match="not a finished audit"):
        load_results(tmp_path / "empty")
    with pytest.raises(TypicalityError, match="is not a folder"):
        load_results(tmp_path / "nowhere")


def test_read_audit_reports_missing_files_instead_of_failing(tmp_path, simulated):
    data, scores = simulated
    results, design = analyze_with_design(data, scores)
    save_data(data, tmp_path)
    save_scores(scores, tmp_path / SCORES_FILE)
    save_analysis(results, design, tmp_path)
    audit = read_audit(tmp_path)
    assert audit.pairs is not None and audit.data is not None and isinstance(audit.scores, ScoreResult)
    assert audit.score_card == results.model and audit.missing == {}
    (tmp_path / SCORES_FILE).write_text("broken")
    assert read_audit(tmp_path).missing[SCORES_FILE].startswith("unreadable")


def test_reading_and_analysing_an_audit_folder_imports_no_torch(tmp_path, simulated):
    """The contract, data, stats and report stages are torch-free: a laptop re-renders a GPU audit."""
    data, scores = simulated
    save_data(data, tmp_path)
    save_scores(scores, tmp_path / SCORES_FILE)
    code = (
        "import sys\n"
        "import typicality.audit_folder, typicality.data, typicality.stats, typicality.report\n"
        "from typicality.audit_folder import save_analysis\n"
        "from typicality.pipeline import read_analysis_input\nfrom typicality.stats import analyze_with_design\n"
        f"data, scores = read_analysis_input({str(tmp_path)!r})\n"
        "save_analysis(*analyze_with_design(data, scores), " + repr(str(tmp_path)) + ")\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.') or m.startswith('transformers'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
