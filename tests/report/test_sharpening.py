"""The report's sharpening section words results.json's `sharpening`: the same gammas, and the reason when there are none."""

from __future__ import annotations

import pytest

from tests.report.page import parse_page
from tests.stats.compare_audits import write_audit
from typicality.audit_folder import load_results
from typicality.report import render_report
from typicality.report.sharpening import sharpening_section
from typicality.stats import simulate


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    data, scores = simulate(0.5, 150, 3, seed=4, rating_levels=5)
    return write_audit(tmp_path_factory.mktemp("sharpening") / "audit", data, scores)


def test_the_report_shows_the_gammas_of_results_json(audit):
    record = load_results(audit).sharpening
    paths = render_report(audit)
    page = parse_page(paths.html.read_text())
    markdown = paths.markdown.read_text()
    assert "What this alpha would do to a trained model" in page.text and "not measured on any trained model" in page.text
    assert record.estimate in page.text
    for row in record.gammas:
        assert f"{row.gamma:.3f}" in page.text and f"| {row.beta:g} | {row.gamma:.3f} |" in markdown


def test_no_gamma_is_explained(audit):
    unavailable = load_results(audit).sharpening.replace(
        available=False, estimate=None, alpha=None, ci_low=None, ci_high=None, gammas=[],
        reason="the summed-typicality, length-controlled fit on the headline's slice was not run",
    )
    section = sharpening_section(unavailable)
    assert section.tables == () and any("was not run" in sentence for sentence in section.sentences)
