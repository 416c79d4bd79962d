"""The typed comparison: every committed comparison.json re-serialises byte for byte and re-renders its report as
committed; a file this version did not write is refused with the fix."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from typicality.comparison_folder import COMPARISON_FILE, comparison_text, load_comparison
from typicality.comparison_results import ComparisonResults, ModelComparison
from typicality.errors import TypicalityError
from typicality.report.comparison import render_comparison

COMMITTED = sorted(Path(__file__).resolve().parents[1].glob("reports/compare-*/comparison.json"))


def test_the_committed_comparisons_are_found():
    assert len(COMMITTED) >= 3  # two model comparisons, one dataset comparison


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: path.parent.name)
def test_committed_comparison_json_round_trips_byte_for_byte(path):
    comparison = load_comparison(path.parent)
    assert comparison_text(comparison) == path.read_text(encoding="utf-8")
    assert isinstance(comparison.section, ModelComparison) == (comparison.kind == "models")
    assert (comparison.typicality is not None) == (path.parent / "typicality.parquet").exists()


def _without_images(html: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,...", html)


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: path.parent.name)
def test_committed_comparison_reports_render_as_committed(tmp_path, path):
    """From comparison.json alone (and typicality.parquet): comparison.md byte for byte, comparison.html but for its embedded PNGs
    (their bytes are matplotlib's, not this code's)."""
    folder = tmp_path / path.parent.name
    shutil.copytree(path.parent, folder)
    render_comparison(folder)
    assert (folder / "comparison.md").read_text(encoding="utf-8") == (path.parent / "comparison.md").read_text(encoding="utf-8")
    rendered, committed = ((where / "comparison.html").read_text(encoding="utf-8") for where in (folder, path.parent))
    assert _without_images(rendered) == _without_images(committed)


@pytest.fixture
def content() -> dict:
    content = json.loads(COMMITTED[0].read_text(encoding="utf-8"))
    content.pop("format_version")
    return content


def test_unknown_keys_are_refused_with_the_fix(content):
    with pytest.raises(TypicalityError, match=r"ComparisonResults has unknown key\(s\) extra.*re-run `typicality compare`"):
        ComparisonResults.from_dict({**content, "extra": 1})
    content[content["kind"]]["joint_fit"]["alphas"][0]["surprise"] = 0.1
    with pytest.raises(TypicalityError, match=r"unknown key\(s\) surprise.*re-run `typicality compare`"):
        ComparisonResults.from_dict(content)


def test_missing_keys_an_in_memory_field_and_a_kind_without_its_section_are_refused(content):
    with pytest.raises(TypicalityError, match="lacks audits"):
        ComparisonResults.from_dict({key: value for key, value in content.items() if key != "audits"})
    with pytest.raises(TypicalityError, match=r"unknown key\(s\) typicality"):  # the per-response table travels as typicality.parquet
        ComparisonResults.from_dict({**content, "typicality": []})
    with pytest.raises(TypicalityError, match="must be one of models, labels, datasets and come with its section"):
        ComparisonResults.from_dict({**content, "kind": "datasets"})


def test_load_comparison_names_the_file_and_the_fix(tmp_path, content):
    (tmp_path / COMPARISON_FILE).write_text(json.dumps({**content, "extra": 1, "format_version": 1}), encoding="utf-8")
    with pytest.raises(TypicalityError, match=r"comparison.json does not hold the comparison this version writes.*re-run `typicality compare`"):
        load_comparison(tmp_path)
