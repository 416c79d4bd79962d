"""The example notebook runs top to bottom on a small sample, so it never rots."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import shared_file
from tests.report.page import parse_page

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore_typicality.ipynb"


@pytest.mark.slow
def test_notebook_executes_on_a_small_limit(monkeypatch, tmp_path):
    data_file = shared_file("hh-rlhf", "helpful-base", "test.jsonl.gz")
    monkeypatch.setenv("TYPICALITY_DATA_FILES", str(data_file))
    monkeypatch.setenv("TYPICALITY_NOTEBOOK_LIMIT", "12")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs)
    assert "pairs prefer the more typical response" in text
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 3, "the figures cell should display the report's figures"

    # Every object the notebook holds shows as a card (typicality/display.py), its plain-text twin beside it.
    cards = [output["data"] for output in outputs if "typicality-card" in output.get("data", {}).get("text/html", "")]
    kinds = [parse_page(card["text/html"]).text for card in cards]
    for kind in ("PreferenceData", "ScoreResult", "AuditResults", "Estimate", "InfluenceSummary", "ComparisonResults", "PowerPlan"):
        assert any(kind in text for text in kinds), f"no {kind} card in the notebook's outputs"
    assert all(card["text/plain"].splitlines()[0].endswith("]") for card in cards)  # the card's text form ("title  [Kind]"), not a dataclass repr
    # The token view (typicality.explain), inline: every token a span with its log-probability.
    views = [output["data"]["text/html"] for output in outputs if 'class="token-view"' in output.get("data", {}).get("text/html", "")]
    assert len(views) == 1
    spans = [attrs for tag, attrs in parse_page(views[0]).elements if tag == "span" and (attrs.get("title") or "").startswith("log p = ")]
    assert len(spans) > 10 and "token sums match the audit's within" in text
    # The hostile dataset's card: its markup shown as text, no element it tried to open.
    hostile = parse_page(next(card["text/html"] for card in cards if "hostile" in card["text/html"]))
    assert "<script>alert('card')</script> hi" in hostile.text and "Say hi <img src=x onerror=alert(1)>" in hostile.text
    assert "<b>hostile</b> set" in hostile.text
    assert not {tag for tag, _ in hostile.elements} & {"script", "img"}
