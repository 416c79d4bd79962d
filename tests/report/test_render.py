"""The Markdown and HTML reports: every number read back, every dataset text kept as text."""

from __future__ import annotations

import base64
import json
import math
import re

import pytest
from markdown_it import MarkdownIt

from tests.report.page import (
    DATA_URI_PREFIX,
    NOT_A_NUMBER,
    coefficient,
    markdown_to_html,
    parse_page,
    report_text_without_dataset_text,
    visible_text,
)
from tests.report.synthetic import HOSTILE_NAME, PAYLOADS
from typicality.report import render_report
from typicality.report.content import fmt_coef
from typicality.report.render import markdown_code_block, markdown_escape


def test_render_report_writes_markdown_html_and_figures(audit_dir):
    paths = render_report(audit_dir)
    assert paths.markdown == audit_dir / "report.md" and paths.html == audit_dir / "report.html"
    assert sorted(p.name for p in paths.figures) == sorted(p.name for p in (audit_dir / "figures").glob("*.png"))
    assert len(paths.figures) == 5


def test_html_is_self_contained_with_the_figures_embedded(audit_dir):
    paths = render_report(audit_dir)
    page = parse_page(paths.html.read_text(encoding="utf-8"))
    sources = [attrs["src"] for attrs in page.tags("img")]
    assert len(sources) == len(paths.figures)
    for src, figure in zip(sources, paths.figures):
        assert base64.b64decode(src[len(DATA_URI_PREFIX):]) == figure.read_bytes()
    # Nothing is fetched: no scripts, stylesheets, frames or objects; images are data URIs only.
    for tag in ("script", "link", "iframe", "object", "embed"):
        assert page.tags(tag) == []
    assert all(attrs["src"].startswith(DATA_URI_PREFIX) for attrs in page.tags("img"))


def test_html_escapes_every_dataset_text(audit_dir):
    html = render_report(audit_dir).html.read_text(encoding="utf-8")
    page = parse_page(html)
    assert page.title == f"Typicality audit: {HOSTILE_NAME}, test"
    assert page.tags("script") == [] and page.tags("i") == [] and page.tags("em") == []
    assert not [tag for tag, attrs in page.elements if any(name.startswith("on") for name in attrs)]
    # The payloads show as text, in the prompts and responses of the example pairs.
    for payload in PAYLOADS:
        assert payload in page.text, payload
    assert page.text.count("<script>alert(1)</script>") >= 6
    # The page's own structure is intact: the injected </table></pre> closed nothing.
    assert len(page.tags("pre")) == html.count("</pre>") == 18  # 6 pairs x (prompt, preferred, rejected)


def test_markdown_keeps_every_dataset_text_as_text(audit_dir):
    markdown = render_report(audit_dir).markdown.read_text(encoding="utf-8")
    page = parse_page(markdown_to_html(markdown))
    assert page.tags("script") == [] and page.tags("a") == [] and page.tags("i") == [] and page.tags("strong") == []
    assert [attrs["src"] for attrs in page.tags("img")] == [f"figures/{name}.png" for name in ("delta_distribution", "preference_rate", "forest", "length_confound", "typicality_by_rating")]
    # Eight tables (estimates, ordinal, counts, drops, design drops, model card, paper, software): none added, none broken.
    assert len(page.tags("table")) == 8
    assert len(page.tags("pre")) == 18
    assert page.title == ""
    headings = [tag for tag, _ in page.elements if re.fullmatch(r"h[1-6]", tag)]
    assert headings.count("h1") == 1
    for payload in PAYLOADS:
        assert payload in page.text, payload
    assert f"Typicality audit: {HOSTILE_NAME}, test" in page.text


@pytest.mark.parametrize(
    "text",
    [
        *PAYLOADS,
        "# not a heading",
        "> not a quote",
        "- not a list",
        "+ not a list",
        "1. not a list",
        "3) not a list",
        "---",
        "===",
        "a | b",
        "<https://example.com>",
        "&amp; &#x41; \\*",
        "`code` ``more``",
        "~~strike~~ $x^2$",
        "line one\nline two\n\n- item",
        "p < 0.001 and 2 > 1",
        "__dunder__ snake_case_name _lead trail_ a_ _b x__y",
        "é_à_ü _ü_",
    ],
)
def test_markdown_escape_round_trips_to_the_literal_text(text):
    html = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(f"- {markdown_escape(text)}\n")
    page = parse_page(html)
    assert [tag for tag, _ in page.elements] == ["ul", "li"], html
    assert page.text.strip() == " ".join(text.split())


@pytest.mark.parametrize("text", ["plain", "```\nfence inside\n```", "````x````` and `", "<script>x</script>\n{{ y }}"])
def test_code_blocks_hold_any_text_verbatim(text):
    page = parse_page(markdown_to_html(f"{markdown_code_block(text)}\n\nafter\n"))
    assert [tag for tag, _ in page.elements] == ["pre", "code", "p"]
    assert page.text == f"{text}\n\nafter\n"  # the code block (its text and newline), then the paragraph


def test_coefficients_keep_three_significant_digits():
    assert [fmt_coef(x) for x in (1.23456, -0.5, 0.0112, 0.00112, -0.000123, 8.37e-05, 0.0, -0.0, None, math.nan)] == [
        "1.235", "-0.500", "0.0112", "0.00112", "-0.000123", "8.37e-05", "0.000", "0.000", "not available", "not available",
    ]


def by_id(results: dict, estimate_id: str) -> dict:
    return next(e for e in results["estimates"] if e["id"] == estimate_id)


def test_reported_numbers_are_the_ones_in_results_json(audit_dir):
    paths = render_report(audit_dir)
    results = json.loads((audit_dir / "results.json").read_text())
    for path in (paths.markdown, paths.html):
        text = visible_text(path)
        for estimate in results["estimates"]:
            if not estimate["fitted"]:
                continue
            for key in ("alpha", "se", "ci_low", "ci_high"):
                assert coefficient(estimate[key]) in text, (path.name, key)
            assert f"{estimate['odds_ratio_per_sd']:.2f}" in text
            assert f"{estimate['win_prob_change']:+.2f}" in text
        agreement = results["agreement"]
        assert f"{100 * agreement['rate']:.1f}%" in text
        assert f"95% CI {100 * agreement['ci_low']:.1f}% to {100 * agreement['ci_high']:.1f}%" in text
        headline = by_id(results, results["headline"]["estimate"])
        assert headline["controls"] == ["correctness"]  # the fixture's headline: the first fitted estimate
        assert f"all · mean_logprob · correctness; {headline['n_pairs']} pairs) is {headline['alpha']:.3f} (SE {headline['se']:.3f}" in text
        twin = by_id(results, results["headline"]["length_controlled"])
        assert f"with correctness + length as controls, alpha is {twin['alpha']:.3f} (SE {twin['se']:.3f}" in text
        assert "perfect separation in the equal" in text  # the fit that could not run says why
        assert f"Only {headline['n_pairs']} pairs entered the headline fit" in text
        ordinal = results["ordinal"]
        assert f"LR = {ordinal['lr_statistic']:.2f} on 1 df, p = {ordinal['lr_p_value']:.3f}" in text
        assert f"{ordinal['coef']:.3f} (SE {ordinal['se']:.3f}, Wald p = {ordinal['p_value']:.3f})" in text
        ties = results["pairs"]["dropped"]["tie (ties='drop')"]
        assert re.search(rf"tie \(ties='drop'\)\s*{ties}(?!\d)", text)


def length_verdict(audit_dir, low, high) -> str:
    results = json.loads((audit_dir / "results.json").read_text())
    controlled = by_id(results, results["headline"]["length_controlled"])
    assert "length" in controlled["controls"]
    controlled["ci_low"], controlled["ci_high"] = low, high
    (audit_dir / "results.json").write_text(json.dumps(results))
    return render_report(audit_dir).markdown.read_text(encoding="utf-8")


def test_headline_says_whether_alpha_survives_the_length_control(audit_dir):
    results = json.loads((audit_dir / "results.json").read_text())
    assert by_id(results, results["headline"]["estimate"])["ci_low"] > 0  # the fixture's headline alpha is clearly positive
    assert "It survives the length control" in length_verdict(audit_dir, 0.2, 3.0)
    assert "It does not survive the length control" in length_verdict(audit_dir, -0.4, 3.0)
    assert "It does not survive the length control" in length_verdict(audit_dir, -3.0, -0.2)


def test_a_headline_without_an_effect_says_so(audit_dir):
    results = json.loads((audit_dir / "results.json").read_text())
    by_id(results, results["headline"]["estimate"])["ci_low"] = -0.5
    (audit_dir / "results.json").write_text(json.dumps(results))
    assert "Without controls alpha is not distinguishable from zero" in render_report(audit_dir).markdown.read_text(encoding="utf-8")


def test_null_nan_and_missing_fields_never_print_nan(audit_dir):
    results = json.loads((audit_dir / "results.json").read_text())
    results["estimates"][1].update(alpha=math.nan, se=None, p_value=math.inf)
    del results["estimates"][2]["ci_low"]
    results["estimates"][3] = {"slice": "all"}  # a fit with nothing but its slice
    results["agreement"] = {"rate": None, "reason": "no decided pairs"}
    results["ordinal"] = {"outcome": "helpfulness", "fitted": False, "coef": None}
    for key in ("software", "warnings", "model", "headline", "pairs", "settings"):
        results.pop(key, None)
    (audit_dir / "results.json").write_text(json.dumps(results))  # writes NaN/Infinity, as json.dumps allows
    paths = render_report(audit_dir)
    for path in (paths.markdown, paths.html):
        text = report_text_without_dataset_text(path.read_text(encoding="utf-8"))
        assert not NOT_A_NUMBER.search(text), NOT_A_NUMBER.search(text)
        assert "The agreement rate is not available (no decided pairs)" in text
        assert "could not run (results.json records no reason)" in text
        assert "Not available: results.json records no software versions" in text


def test_a_folder_with_only_results_json_still_gets_a_report(audit_dir):
    for name in ("pairs.parquet", "scores.parquet", "scoring.json", "dataset.json", "responses.parquet", "comparisons.parquet"):
        (audit_dir / name).unlink()
    paths = render_report(audit_dir)
    text = paths.markdown.read_text(encoding="utf-8")
    assert "Not drawn: pairs.parquet is absent." in text
    assert "Not drawn: scores.parquet is absent." in text
    assert "Not available: dataset.json: absent." in text
    assert [p.name for p in paths.figures] == ["forest.png"]
    assert not NOT_A_NUMBER.search(report_text_without_dataset_text(text))
    # The model card falls back to the card results.json carries; without one, the report says so.
    assert "| fingerprint | abc123 |" in text and "scoring.json" not in text
    results = json.loads((audit_dir / "results.json").read_text())
    results["model"] = None
    (audit_dir / "results.json").write_text(json.dumps(results))
    text = render_report(audit_dir).markdown.read_text(encoding="utf-8")
    assert "scoring.json is not available (absent)" in text
    assert "Not available: neither scoring.json nor results.json records the model." in text


def test_pairwise_report_has_no_rating_figure_and_no_ordinal_section(pairwise_dir):
    text = render_report(pairwise_dir).markdown.read_text(encoding="utf-8")
    assert "Not drawn: the dataset has no rating columns (pairwise judgements only)." in text
    assert "Ordinal model" not in text
    assert "Only 40 pairs entered the headline fit" in text
