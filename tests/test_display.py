"""The cards every object shows in Jupyter (`_repr_html_`) and at a prompt (`__repr__`): escaped, compact, and right.

The numbers in a card are checked against the object's own fields recomputed another way (numpy
quantiles, a hand count of ties); the HTML is parsed as a browser would, so an injected tag would
show up as an element.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.report.page import parse_page
from tests.report.synthetic import HOSTILE_NAME, LOADER_NOTE, synthetic_inputs
from typicality.comparison_folder import load_comparison
from typicality.display import card_html, card_text, comparison_card, plain
from typicality.results import AuditResults, Estimate
from typicality.stats import analyze
from typicality.stats.analysis import analyze_with_design
from typicality.stats.compare import ComparisonResults
from typicality.stats.influence import compute_influence
from typicality.stats.power import plan

TERMINAL_WIDTH = 100


@pytest.fixture(scope="module")
def audited():
    data, scores = synthetic_inputs(n_prompts=12, per_prompt=4)
    return data, scores, analyze(data, scores, seed=0)


def elements(page) -> set[str]:
    return {tag for tag, _ in page.elements}


def assert_safe_card(html: str) -> object:
    """A card is one <div> of text, tables and lists: no element a dataset text could have opened."""
    page = parse_page(html)
    assert elements(page) <= {"div", "span", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "b"}
    assert not [attrs for _, attrs in page.elements if set(attrs) - {"style", "class", "colspan"}]  # no onerror=, no src=
    return page


def assert_fits_a_terminal(text: str, max_lines: int = 30) -> None:
    lines = text.splitlines()
    assert 1 < len(lines) <= max_lines
    assert max(len(line) for line in lines) <= TERMINAL_WIDTH + 2
    assert all(line.isprintable() for line in lines)


def test_preference_data_card_escapes_its_texts_and_counts_the_pairs(audited):
    data, _, _ = audited
    page = assert_safe_card(data._repr_html_())
    assert HOSTILE_NAME in page.text  # the dataset's name, shown as text
    assert "&lt;b&gt; AT&T ````code```` <!-- comment Assistant:" in page.text  # a prompt's end, its payloads shown as text
    assert LOADER_NOTE in page.text
    n_ties = sum(label == 0.5 for label in data.comparisons["label"].tolist())
    assert f"{len(data.comparisons):,} pairs derived from ratings ({n_ties} ties) over {data.responses['prompt'].nunique()} prompts" in page.text
    text = repr(data)
    assert_fits_a_terminal(text)
    assert "prompt (end)" in text and "response a" in text  # the sample of pairs, cut to fit


def test_score_result_card_shows_the_quantiles_of_typicality(audited):
    _, scores, _ = audited
    page = assert_safe_card(scores._repr_html_())
    values = scores.table["mean_logprob"].to_numpy(float)
    expected = [f"{np.percentile(values, q):.3f}" for q in (0, 25, 50, 75, 100)]
    row = next(line for line in repr(scores).splitlines() if line.strip().startswith("mean_logprob"))
    assert row.split()[1:] == expected
    truncated = int((scores.table["n_tokens"] > 280).sum())
    assert truncated and f"{truncated} responses cut to fit the window." in page.text
    assert_fits_a_terminal(repr(scores))


def test_estimate_and_results_cards_word_the_headline(audited):
    _, _, results = audited
    main = results.headline_estimate
    text = repr(main)
    assert_fits_a_terminal(text)
    ci = f"95% CI {main.ci_low:.3f} to {main.ci_high:.3f}" if min(abs(main.ci_low), abs(main.ci_high)) >= 0.1 else "95% CI"
    assert f"alpha = {main.alpha:.3f}" in text and ci in text
    assert not text.startswith("Estimate(")  # not the dataclass wall

    page = assert_safe_card(results._repr_html_())
    assert f"Typicality audit: {results.dataset.title}" in page.text  # the hostile title, escaped
    # One table row per estimate (12 at most, then "… N more rows"), the headline first.
    rows = [attrs for tag, attrs in page.elements if tag == "tr"]
    assert len(results.estimates) > 12 and len(rows) == 1 + 12 + 1
    assert f"… {len(results.estimates) - 12} more rows" in page.text
    first_row = repr(results).splitlines()[repr(results).splitlines().index(next(line for line in repr(results).splitlines() if "slice" in line)) + 1]
    assert first_row.split()[:2] == [main.slice, main.typicality]
    assert f"{100 * results.agreement.rate:.1f}% of {results.agreement.n_pairs}" in page.text
    assert_fits_a_terminal(repr(results))
    # The same card read back from results.json: a plain AuditResults, same words.
    assert repr(AuditResults.from_dict(results.to_dict())) == repr(results)


def test_an_unfitted_estimate_says_why():
    estimate = Estimate("all", "mean_logprob", [], fitted=False, reason="only 3 pairs <b>")
    assert "Not fitted: only 3 pairs <b>." in repr(estimate)
    assert "only 3 pairs &lt;b&gt;" in estimate._repr_html_()


def test_repr_leaves_serialization_alone(audited):
    _, _, results = audited
    before = results.to_dict()
    repr(results), results._repr_html_()
    assert results.to_dict() == before
    assert Estimate.from_dict(results.estimates[0].to_dict()) == results.estimates[0]


def test_influence_and_plan_cards(audited):
    data, scores, results = audited
    _, design = analyze_with_design(data, scores, seed=0)
    influence = compute_influence(design, results.headline_estimate)
    summary = influence.summary
    text = repr(influence)
    assert_fits_a_terminal(text)
    assert f"one prompt by at most {summary.largest_prompt_change:.3g}" in text or f"{summary.largest_prompt_change:.3f}" in text
    assert_safe_card(summary._repr_html_())

    power = plan(alpha=0.3, sd_delta=0.8, pairs=1500)
    text = repr(power)
    assert_fits_a_terminal(text)
    assert power.sentence()[:60] in " ".join(text.split())
    page = assert_safe_card(power._repr_html_())
    # The table's powers are those of the plan, as percentages.
    assert f"{power.table[0]['power']:.0%}" in page.text


def test_comparison_card_escapes_labels():
    content = {
        "kind": "datasets",
        "audits": [
            {"label": "<img src=x onerror=alert(1)>", "dataset": {"title": "A & B"}, "model": {"name": "m"},
             "estimate": {"alpha": 0.25, "ci_low": 0.1, "ci_high": 0.4, "p_value": 0.002, "n_pairs": 300}},
            {"label": "second", "dataset": {"title": "C"}, "model": {"name": "m"},
             "estimate": {"alpha": -0.05, "ci_low": -0.2, "ci_high": 0.1, "p_value": 0.5, "n_pairs": 200}},
        ],
        "datasets": {"pooled": {"random": {"effect": 0.1, "ci_low": -0.1, "ci_high": 0.3, "p_value": 0.3}}, "differences": []},
        "warnings": ["Only 2 datasets."],
    }
    card = comparison_card(content)  # what ComparisonResults shows, from its comparison.json content
    page = assert_safe_card(card_html(card))
    assert "<img src=x onerror=alert(1)>" in page.text and "A & B" in page.text
    assert_fits_a_terminal(card_text(card))


def test_comparison_results_show_as_their_card():
    comparison = load_comparison(Path(__file__).resolve().parents[1] / "reports" / "compare-hh-rlhf-helpful-vs-harmless-base")
    assert isinstance(comparison, ComparisonResults)
    page = assert_safe_card(comparison._repr_html_())
    assert "helpful-base" in page.text and "harmless-base" in page.text
    assert f"{comparison.audits[0].estimate.alpha:.3f}" in page.text  # the first audit's alpha, as comparison.json holds it
    assert_fits_a_terminal(repr(comparison))




def test_plain_shows_control_characters_as_escapes():
    assert plain("a\x1b[31mred\x07 b\n\nc") == "a\\x1b[31mred\\x07 b c"
    assert all(line.isprintable() for line in card_text(_card_with_title("evil\x1b]0;title\x07")).splitlines())


def _card_with_title(title: str):
    from typicality.display import Card

    return Card(title=title, sentences=["x"], header=["a"], rows=[["1"]])


def test_pretty_printer_uses_the_card(audited):
    from IPython.lib.pretty import pretty

    _, _, results = audited
    assert pretty(results) == repr(results)


def test_a_broken_object_still_has_a_repr():
    from typicality.domain import ScoreResult

    broken = ScoreResult(table=None)  # no table at all
    assert repr(broken).startswith("<ScoreResult: no card (")
    assert broken._repr_html_() is None  # Jupyter falls back to the text form

