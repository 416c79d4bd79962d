"""The Markdown and HTML reports: every number read back, every dataset text kept as text."""

from __future__ import annotations

import base64
import math
import re

import pytest
from markdown_it import MarkdownIt

from tests.report.page import (
    DATA_URI_PREFIX,
    NOT_A_NUMBER,
    coefficient,
    headline_items,
    markdown_to_html,
    parse_page,
    quotes,
    report_text_without_dataset_text,
    visible_text,
)
from tests.report.synthetic import PAYLOADS, TITLE, estimate_with_id, store_results, stored_results
from typicality.audit_folder import (
    COMPARISONS_FILE,
    DATASET_FILE,
    PAIRS_FILE,
    RESPONSES_FILE,
    SCORES_FILE,
    load_results,
    save_results,
    score_card_path,
)
from typicality.formatting import fmt_coef
from typicality.report import render_report
from typicality.report.render import markdown_code_block, markdown_escape
from typicality.results import AlphaChange, Headline


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
    # Every figure embedded once (the answer's figure first, the others in the figures section).
    assert sorted(base64.b64decode(src[len(DATA_URI_PREFIX):]) for src in sources) == sorted(figure.read_bytes() for figure in paths.figures)
    # Nothing is fetched: no scripts, stylesheets, frames or objects; images are data URIs only.
    for tag in ("script", "link", "iframe", "object", "embed"):
        assert page.tags(tag) == []
    assert all(attrs["src"].startswith(DATA_URI_PREFIX) for attrs in page.tags("img"))


def test_html_escapes_every_dataset_text(audit_dir):
    html = render_report(audit_dir).html.read_text(encoding="utf-8")
    page = parse_page(html)
    assert page.title == f"Typicality audit: {TITLE}"
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
    assert [attrs["src"] for attrs in page.tags("img")] == [
        f"figures/{name}.png" for name in ("preference_rate", "delta_distribution", "forest", "length_confound", "typicality_by_rating")
    ]
    # Every table the report writes parses as one (none broken), and no dataset text made another (none added).
    written = report_text_without_dataset_text(markdown)
    separators = re.findall(r"^\|(?:-+:?\|)+$|^\|(?:-*:?-+:?\|)+$", written, flags=re.M)
    assert len(page.tags("table")) == len(separators) >= 8  # estimates, ordinal, counts, drops, design drops, model card, paper, software
    assert len(page.tags("pre")) == 18
    assert page.title == ""
    headings = [tag for tag, _ in page.elements if re.fullmatch(r"h[1-6]", tag)]
    assert headings.count("h1") == 1
    for payload in PAYLOADS:
        assert payload in page.text, payload
    assert f"Typicality audit: {TITLE}" in page.text


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


def test_reported_numbers_are_the_ones_in_results_json(audit_dir):
    paths = render_report(audit_dir)
    results = load_results(audit_dir)
    for path in (paths.markdown, paths.html):
        text = visible_text(path)
        for estimate in results.estimates:
            if not estimate.fitted:
                assert estimate.reason in text  # a fit that could not run says why
                continue
            for key, value in (("alpha", estimate.alpha), ("se", estimate.se), ("ci_low", estimate.ci_low), ("ci_high", estimate.ci_high)):
                assert coefficient(value) in text, (path.name, key)
            assert f"{estimate.odds_ratio_per_sd:.2f}" in text
            assert f"{estimate.win_prob_change:+.2f}" in text
        agreement = results.agreement
        assert f"In {agreement.n_pairs} pairs, the preferred response was the more typical one" in text
        assert f"in {100 * agreement.rate:.1f}% of pairs (95% CI {100 * agreement.ci_low:.1f}% to {100 * agreement.ci_high:.1f}%" in text
        headline = results.headline_estimate
        assert headline.controls == ["correctness"]  # rated data: the adjusted fit, as the stats stage decided
        twin = results.length_controlled_estimate
        items = headline_items(path)
        assert any(f"fit all · mean_logprob · correctness, {headline.n_pairs} pairs)" in item and quotes(item, headline) for item in items), items
        assert any(item.startswith("With correctness + length as controls, alpha is") and quotes(item, twin) for item in items), items
        assert f"Only {headline.n_pairs} pairs entered the headline fit" in text
        ordinal = results.ordinal
        assert f"LR = {ordinal.lr_statistic:.2f} on 1 df, p = {ordinal.lr_p_value:.3f}" in text
        assert f"{ordinal.coef:.3f} (SE {ordinal.se:.3f}, Wald p = {ordinal.p_value:.3f})" in text
        ties = results.pairs["dropped"]["tie (ties='drop')"]
        assert ties == 25 and re.search(rf"tie \(ties='drop'\)\s*{ties}(?!\d)", text)


def test_the_report_states_both_fits_and_the_change_without_a_verdict(audit_dir):
    """No "survives the length control": the headline fit, its length-controlled twin and the change results.json records."""
    results = load_results(audit_dir)
    change = results.headline.alpha_change
    main, twin = results.estimate(change.from_id), results.estimate(change.to_id)
    assert change.estimate == pytest.approx(twin.alpha - main.alpha, abs=1e-12)
    paths = render_report(audit_dir)
    for path in (paths.markdown, paths.html):
        assert "surviv" not in path.read_text(encoding="utf-8")
        items = headline_items(path)
        assert any(quotes(item, main) for item in items) and any(quotes(item, twin) for item in items), items
        assert any(re.search(re.escape(f"; the length control changes alpha by {change.estimate:+.3f}") + r"[. ]", item) for item in items), items


def test_the_report_follows_a_hand_edited_headline(audit_dir):
    """results.json names the headline; edit it by hand and the report quotes the new fit, not the old."""
    results = load_results(audit_dir)
    old, old_twin = results.headline_estimate, results.length_controlled_estimate
    before = headline_items(render_report(audit_dir).markdown)
    assert any(quotes(item, old) for item in before) and any(quotes(item, old_twin) for item in before)

    new, new_twin = results.estimate("all|sum_logprob|none"), results.estimate("all|sum_logprob|length")
    assert new.fitted and new_twin.fitted
    # The change is quoted as recorded: a value no pair of fits gives shows it is not recomputed.
    results = results.replace(
        headline=Headline(
            estimate=new.id,
            reason="chosen by hand for this test",
            length_controlled=new_twin.id,
            alpha_change=AlphaChange(estimate=0.0123, from_id=new.id, to_id=new_twin.id),
            curve=results.headline.curve,
        )
    )
    save_results(results, audit_dir)
    paths = render_report(audit_dir)
    for path in (paths.markdown, paths.html):
        items = headline_items(path)
        (fit,) = [item for item in items if "fit all · sum_logprob · no controls, 47 pairs)" in item]
        assert quotes(fit, new), fit
        (length,) = [item for item in items if item.startswith("With length as control, alpha is ")]
        assert quotes(length, new_twin) and "; the length control changes alpha by +0.012." in length, length
        # The old headline's sentences are gone (its numbers stay in the table of every fit).
        assert not any(quotes(item, old) or quotes(item, old_twin) for item in items), items
        assert not any("mean_logprob · correctness" in item or "correctness + length" in item for item in items)
        assert f"{coefficient(old.alpha)}" in visible_text(path)


def test_null_nan_and_missing_fields_never_print_nan(audit_dir):
    """A hand-edited results.json (NaN and Infinity as json.dumps writes them, numbers left out) still reads as the
    typed results: no number prints as NaN, and what could not run says so."""
    results = stored_results(audit_dir)
    headline = estimate_with_id(results, results["headline"]["estimate"])
    headline.update(fitted=False, reason=None, alpha=math.nan, se=None, p_value=math.inf)
    del estimate_with_id(results, results["headline"]["length_controlled"])["ci_low"]
    curve = results["estimates"].index(estimate_with_id(results, results["headline"]["curve"]))
    results["estimates"][curve] = {"slice": "all", "typicality": "mean_logprob", "controls": []}  # a fit with nothing but its name
    agreement = results["agreement"]
    agreement.update(rate=None, ci_low=None, ci_high=None, p_value=None, n_agree=0, n_pairs=0, clustered=None)
    results["ordinal"] = {"outcome": "helpfulness", "typicality": "mean_logprob", "controls": [], "fitted": False, "coef": None}
    results.update(software={}, warnings=[], model=None, pairs={}, settings={})
    store_results(audit_dir, results)  # writes NaN/Infinity, as json.dumps allows
    paths = render_report(audit_dir)
    for path in (paths.markdown, paths.html):
        text = report_text_without_dataset_text(path.read_text(encoding="utf-8"))
        assert not NOT_A_NUMBER.search(text), NOT_A_NUMBER.search(text)
        assert "The agreement rate is not available (results.json records no reason)" in text
        assert "The headline fit (all · mean_logprob · correctness) could not run (results.json records no reason)." in text
        assert "could not run (results.json records no reason)" in text
        assert "Not available: results.json records no software versions" in text


def test_a_folder_with_only_results_json_still_gets_a_report(audit_dir):
    for name in (PAIRS_FILE, SCORES_FILE, DATASET_FILE, RESPONSES_FILE, COMPARISONS_FILE):
        (audit_dir / name).unlink()
    score_card_path(audit_dir / SCORES_FILE).unlink()
    paths = render_report(audit_dir)
    text = paths.markdown.read_text(encoding="utf-8")
    assert "Not drawn: pairs.parquet is absent." in text
    assert "Not drawn: scores.parquet is absent." in text
    assert "Not available: dataset.json: absent." in text
    assert [p.name for p in paths.figures] == ["forest.png"]
    assert not NOT_A_NUMBER.search(report_text_without_dataset_text(text))
    # The model card is the one results.json carries; without one, the report says so.
    assert "| model | gemma-3-270m |" in text and "| fingerprint | gemma-3-270m@0123456789abcdef\\|transformers" in text
    save_results(load_results(audit_dir).replace(model=None), audit_dir)
    text = render_report(audit_dir).markdown.read_text(encoding="utf-8")
    model_card = text.split("## Model card", 1)[1].split("\n## ", 1)[0]
    assert model_card.strip() == "Not available: results.json records no model card." and "| fingerprint |" not in text
    assert "scoring.json" not in text  # a file the report no longer reads is not named
    assert "Reference model: the reference model (not recorded)." in text


def test_pairwise_report_has_no_rating_figure_and_no_ordinal_section(pairwise_dir):
    text = render_report(pairwise_dir).markdown.read_text(encoding="utf-8")
    assert "Not drawn: the dataset has no rating columns (pairwise judgements only)." in text
    assert "Ordinal model" not in text
    assert "Only 40 pairs entered the headline fit" in text
    assert "With length as control, alpha is" in text  # pairwise data: the headline has no controls, its twin length
