"""One shape for a results section: a section added to content.SECTIONS is rendered by the one macro per format, in its place."""

from __future__ import annotations

import re

import pytest

from tests.report.page import markdown_to_html, parse_page
from tests.report.synthetic import PAYLOADS
from typicality.audit_folder import read_audit
from typicality.report import content, render_report
from typicality.report.section import Column, Section, Table

TITLE = "A toy section"
HOSTILE = " ".join(PAYLOADS)


def toy_section(audit) -> Section:
    """Reads the audit (the headline's pair count), carries dataset-like text in every part, and has two tables."""
    pairs = f"{audit.results.agreement.n_pairs:,}"
    return Section(
        "toy",
        TITLE,
        (f"Toy sentence over {pairs} pairs.", f"Hostile sentence: {HOSTILE}"),
        tables=(
            Table((Column("name"), Column("pairs", number=True), Column("interval", interval=True)), (("first", pairs, "0.1 to 0.2"), (HOSTILE, "7", "–"))),
            Table((Column("only"),), (("second table cell",),), intro="The second table:", wide=True),
        ),
        note=f"Toy note {HOSTILE}",
    )


def test_a_section_added_to_the_list_is_rendered_in_both_formats(audit_dir, monkeypatch):
    monkeypatch.setattr(content, "SECTIONS", (*content.SECTIONS, toy_section, lambda audit: None))
    paths = render_report(audit_dir)
    html, markdown = paths.html.read_text(encoding="utf-8"), paths.markdown.read_text(encoding="utf-8")
    pairs = f"{read_audit(audit_dir).results.agreement.n_pairs:,}"
    # In its place: after the last listed section (influence or debiasing), before the figures.
    for text, heading in ((markdown, f"## {TITLE}"), (html, f"<h2>{TITLE}</h2>")):
        assert text.index("Acting on this audit") < text.index(heading) < text.index("Figures")
    # Markdown: the table's numeric column is right-aligned, the sentences are paragraphs, hostile text stays text.
    assert f"| name | pairs | interval |\n|---|---:|---|\n| first | {pairs} | 0.1 to 0.2 |\n" in markdown
    assert "The second table:\n\n| only |\n|---|\n| second table cell |\n" in markdown
    md_section = markdown[markdown.index(f"## {TITLE}"):markdown.index("## Figures")]
    md_page = parse_page(markdown_to_html(md_section))
    # HTML: number cells right-aligned, interval cells on one line, the wide table in its scrolling box, the note in small type.
    section = re.search(r'<section id="toy">.*?</section>', html, flags=re.S).group(0)
    assert f'<tr><td>first</td><td class="num">{pairs}</td><td class="ci">0.1 to 0.2</td></tr>' in section
    assert '<th>name</th><th class="num">pairs</th><th>interval</th>' in section
    assert '<p>The second table:</p>\n<div class="wide"><table>' in section
    html_page = parse_page(section)
    for page in (html_page, md_page):
        text = " ".join(page.text.split())
        assert f"Toy sentence over {pairs} pairs." in text and "second table cell" in text
        assert text.count("<script>alert(1)</script>") >= 3  # the sentence, the cell and the note, shown as text
        assert page.tags("script") == [] and not [a for a in page.tags("a") if "javascript" in (a.get("href") or "")]
    assert md_page.tags("strong") == []
    assert [attrs for attrs in html_page.tags("p") if attrs.get("class") == "small"]


def test_a_table_row_must_fill_its_columns():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        Table((Column("a"), Column("b"), Column("c")), (("1", "2"),))
