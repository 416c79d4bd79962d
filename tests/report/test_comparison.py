"""The comparison report: every number it shows is comparison.json's, hostile labels stay text, no script, figures embedded."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from tests.report.page import parse_page
from tests.stats.compare_audits import dataset_audits, model_audits
from typicality.comparison_folder import load_comparison
from typicality.pipeline import compare
from typicality.report.comparison import render_comparison

HOSTILE = "<script>alert(1)</script> **bold** [link](http://x) | cell"


@pytest.fixture(scope="module")
def model_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-report")
    folders = model_audits(root, prompts=120)
    compare(folders, labels=[HOSTILE, "quantized"], out=root / "comparison")
    return root / "comparison"


@pytest.fixture(scope="module")
def dataset_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset-report")
    compare(dataset_audits(root, alphas=(0.3, 0.8)), out=root / "comparison")
    return root / "comparison"


def test_model_comparison_html_is_self_contained_escaped_and_shows_the_json_numbers(model_report):
    content = load_comparison(model_report)
    html = (model_report / "comparison.html").read_text()
    page = parse_page(html)
    assert page.tags("script") == [] and "<script>alert(1)</script>" in page.text  # shown as text, not run
    assert "Content-Security-Policy" in html
    images = page.images()
    assert len(images) == 2 and all(image.width > 500 for image in images)  # scatter + alpha per model
    difference = content.models.joint_fit.differences[0]
    assert f"{difference.se:.3g}" in page.text or f"{difference.se:.3f}" in page.text
    rates = content.models.agreement.rates
    assert all(f"{100 * row.rate:.1f}%" in page.text for row in rates)
    correlation = content.models.correlations[0]
    assert f"{correlation.response_pearson:.4f}" in page.text


def test_model_comparison_markdown_escapes_labels(model_report):
    markdown = (model_report / "comparison.md").read_text()
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<script>" not in rendered and "<strong>bold</strong>" not in rendered and 'href="http://x"' not in rendered
    assert "figures/typicality_scatter_0_1.png" in markdown and "figures/alpha_by_model.png" in markdown


def test_dataset_comparison_report_has_the_forest_plot_and_pooled_numbers(dataset_report):
    content = load_comparison(dataset_report)
    page = parse_page((dataset_report / "comparison.html").read_text())
    assert len(page.images()) == 1
    pooled = content.datasets.pooled
    assert f"{pooled.random.effect:.3f}" in page.text
    assert f"I² = {100 * pooled.i2:.1f}%" in page.text
    assert all(f"{row.effect_per_sd:.3f}" in page.text for row in content.datasets.datasets)
    assert "Only 2 datasets" in page.text  # the warning travels


def test_render_comparison_is_repeatable_from_the_folder(model_report):
    before = (model_report / "comparison.md").read_text()
    paths = render_comparison(model_report)
    assert paths.markdown.read_text() == before and len(paths.figures) == 2
