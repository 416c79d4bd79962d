"""The report opens with its answer (one sentence, the preference-rate figure) and names its source without a machine's path."""

from __future__ import annotations

import json

import pytest

from tests.report.page import markdown_to_html, parse_page
from typicality.audit_folder import DATASET_FILE, load_results, read_audit, save_results
from typicality.domain import source_name
from typicality.report import render_report
from typicality.report.content import answer

SECRET_PATH = "/home/alice/private-project/prefs & <img src=x>.jsonl"


def test_source_is_named_by_hub_id_or_file_name():
    assert source_name([{"kind": "file", "path": "/work/main/data/hh-rlhf/helpful-base/test.jsonl.gz"}], "ignored") == "test.jsonl.gz"
    assert source_name([{"kind": "hub", "id": "Anthropic/hh-rlhf", "data_dir": "helpful-base", "split": "test"}], "") == "Anthropic/hh-rlhf (helpful-base)"
    files = [{"kind": "file", "path": f"/data/part-{i}.jsonl"} for i in range(4)]
    assert source_name(files, "") == "part-0.jsonl and 3 more files"
    # An older dataset.json without provenance: paths cut to their names, hub ids kept.
    assert source_name([], "/srv/x/a.jsonl, b/c.jsonl") == "a.jsonl, b/c.jsonl"
    assert source_name(None, "nvidia/HelpSteer") == "nvidia/HelpSteer"


@pytest.mark.parametrize(("low", "high", "direction"), [(0.1, 0.5, "More typical responses are preferred"),
                                                         (-0.5, -0.1, "Less typical responses are preferred"),
                                                         (-0.1, 0.5, "No clear preference for more or less typical responses")])
def test_the_answer_follows_the_headline_interval(audit_dir, low, high, direction):
    results = load_results(audit_dir)
    main = results.headline_estimate
    edited = results.replace(estimates=tuple(e.replace(ci_low=low, ci_high=high) if e.id == main.id else e for e in results.estimates))
    save_results(edited, audit_dir)
    sentence = answer(read_audit(audit_dir))
    assert sentence.startswith(f"{direction}: alpha = {main.alpha:.3f} per nat of Δ typicality (95% CI {low:.3f} to {high:.3f}, {main.n_pairs} pairs; ")
    meaning = "a bias estimate" if results.interpretation.is_bias_estimate else "an association"
    assert meaning in sentence
    assert f"in {100 * results.agreement.rate:.1f}% of {results.agreement.n_pairs} pairs." in sentence


def test_the_answer_says_when_no_alpha_was_fitted(audit_dir):
    results = load_results(audit_dir)
    save_results(results.replace(estimates=tuple(e.replace(fitted=False, reason="too few pairs") for e in results.estimates)), audit_dir)
    assert answer(read_audit(audit_dir)).endswith("no alpha could be fitted, so the direction of typicality bias is not estimated.")


def _with_secret_source(folder) -> None:
    dataset = json.loads((folder / DATASET_FILE).read_text(encoding="utf-8"))
    dataset["source"] = SECRET_PATH
    dataset["provenance"] = [{"kind": "file", "path": SECRET_PATH, "sha256": "0" * 64, "bytes": 10}]
    (folder / DATASET_FILE).write_text(json.dumps(dataset), encoding="utf-8")


def test_both_reports_open_with_the_answer_and_name_no_path(audit_dir):
    _with_secret_source(audit_dir)
    paths = render_report(audit_dir)
    expected = answer(read_audit(audit_dir))
    html = paths.html.read_text(encoding="utf-8")
    markdown = paths.markdown.read_text(encoding="utf-8")
    for page in (parse_page(html), parse_page(markdown_to_html(markdown))):
        paragraphs = page.text.split("\n")
        first = next(line for line in paragraphs if line.startswith(("More", "Less", "No clear", "In this data")))
        assert first == expected
        # The answer comes before the headline's details, and its figure is the report's first image.
        assert page.text.index(expected) < page.text.index("the preferred response was the more typical one")
        assert page.tags("img")[0]["alt"] == "Preference rate by Δ typicality, with the fitted curve"
        assert "Source: prefs & <img src=x>.jsonl" in page.text
        assert "/home/alice" not in page.text
    assert "/home/alice" not in html and "/home/alice" not in markdown
    assert len(parse_page(html).images()) == 5  # the lead figure moved, not copied
