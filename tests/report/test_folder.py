"""Reading an audit folder as the report relies on it (typicality.audit_folder.read_audit):
results.json is required and version-checked; every other file may be missing or unreadable,
and is then named in `missing` for the report to say so, never fatal."""

from __future__ import annotations

import json

import pytest

from tests.report.page import visible_text
from tests.report.synthetic import FINGERPRINT, store_results, stored_results
from typicality.audit_folder import (
    DATASET_FILE,
    FORMAT_VERSION,
    INFLUENCE_FILE,
    PAIRS_FILE,
    RESPONSES_FILE,
    RESULTS_FILE,
    SCORES_FILE,
    read_audit,
    score_card_path,
)
from typicality.domain import ScoreResult
from typicality.errors import TypicalityError
from typicality.report import render_report


def test_a_full_folder_reads_every_file(audit_dir):
    audit = read_audit(audit_dir)
    assert audit.missing == {} and audit.influence is None  # influence.parquet is optional and not missed
    assert audit.pairs is not None and audit.data is not None and isinstance(audit.scores, ScoreResult)
    stored = stored_results(audit_dir)
    assert stored.pop("format_version") == FORMAT_VERSION and audit.results.to_dict() == stored  # every key, as stored
    assert len(audit.pairs) == len(audit.pairs.frame) == 47 and audit.pairs.correctness == "correctness"


def test_the_score_card_travels_in_results_json(audit_dir):
    """One way: results.json's `model`; the card beside scores.parquet is not consulted."""
    assert read_audit(audit_dir).score_card.to_dict() == json.loads(score_card_path(audit_dir / SCORES_FILE).read_text())
    score_card_path(audit_dir / SCORES_FILE).unlink()
    (audit_dir / SCORES_FILE).unlink()
    assert read_audit(audit_dir).score_card.fingerprint == FINGERPRINT
    results = stored_results(audit_dir)
    results["model"] = None
    store_results(audit_dir, results)
    (audit_dir / "scoring.json").write_text(json.dumps({"model": "a format nothing writes any more"}))
    assert read_audit(audit_dir).score_card is None


def test_a_folder_without_results_is_refused_with_the_fix(audit_dir, tmp_path):
    (audit_dir / RESULTS_FILE).unlink()
    with pytest.raises(TypicalityError, match=r"has no results\.json, so it is not a finished audit.*typicality audit DATASET --out"):
        read_audit(audit_dir)
    with pytest.raises(TypicalityError, match="is not a folder"):
        read_audit(tmp_path / "absent")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"results\.json is not valid JSON \(.*\): re-run `typicality fit`"),
        ("[1, 2]", r"results\.json holds a list, not a JSON object"),
        (json.dumps({"estimates": []}), r"results\.json was written by another version of typicality \(format None, this version reads"),
        (json.dumps({"format_version": FORMAT_VERSION + 1}), rf"\(format {FORMAT_VERSION + 1}, this version reads {FORMAT_VERSION}\): re-run `typicality fit"),
    ],
)
def test_a_results_file_that_cannot_be_read_is_one_clear_error(audit_dir, text, message):
    (audit_dir / RESULTS_FILE).write_text(text)
    with pytest.raises(TypicalityError, match=message) as raised:
        read_audit(audit_dir)
    assert "\n" not in str(raised.value)
    with pytest.raises(TypicalityError, match=message):
        render_report(audit_dir)
    assert not (audit_dir / "report.md").exists()  # nothing half-written


def test_missing_and_unreadable_files_are_recorded_not_fatal(audit_dir):
    (audit_dir / SCORES_FILE).unlink()
    (audit_dir / PAIRS_FILE).write_bytes(b"not parquet")
    (audit_dir / RESPONSES_FILE).unlink()
    (audit_dir / INFLUENCE_FILE).write_bytes(b"not parquet either")
    audit = read_audit(audit_dir)
    assert audit.scores is None and audit.pairs is None and audit.data is None and audit.influence is None
    assert audit.missing[SCORES_FILE] == "absent"
    assert audit.missing[PAIRS_FILE].startswith("unreadable (")
    assert audit.missing[INFLUENCE_FILE].startswith("unreadable (")
    assert audit.missing[DATASET_FILE].startswith("unreadable (") and RESPONSES_FILE in audit.missing[DATASET_FILE]
    # The report still renders, and says what is missing and why.
    text = visible_text(render_report(audit_dir).markdown)
    for name, why in audit.missing.items():
        assert f"{name} is not available ({why})" in " ".join(text.split()), name


def test_a_pair_table_without_the_design_metadata_is_not_read_as_one(audit_dir):
    """Alternative pair tables (other id columns, no design metadata) are no longer guessed at."""
    import pandas as pd

    frame = pd.read_parquet(audit_dir / PAIRS_FILE).rename(columns={"response_a": "chosen_id", "response_b": "rejected_id"})
    frame.to_parquet(audit_dir / PAIRS_FILE, index=False)
    audit = read_audit(audit_dir)
    assert audit.pairs is None and "not a pair design written by this version" in audit.missing[PAIRS_FILE]
