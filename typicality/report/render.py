"""Markdown and HTML reports from one audit folder, through jinja2 templates.

Dataset text is hostile until proven otherwise. HTML: jinja2 autoescape. Markdown: every
`{{ }}` output is escaped by default (the environment's `finalize`), and dataset texts go in
code fences longer than any backtick run inside them, so no text can open a tag, a table
cell, a link or a heading. Only strings built here are marked safe (`Markup`). Both reports
then show every control character as a visible escape (`typicality.safe_text.printable`), so
no ESC byte reaches a file that `cat` would replay into a terminal.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from typicality.audit_folder import FIGURES_FOLDER, REPORT_HTML_FILE, REPORT_MARKDOWN_FILE, AuditFolder, read_audit
from typicality.errors import require_path
from typicality.report.content import report_context
from typicality.report.figures import ReportFigure, draw_figures
from typicality.safe_text import printable

TEMPLATES = Path(__file__).parent / "templates"
# The figure the report opens with, beside its answer: the preference rate by Δ typicality with the fitted curve (the
# templates' comment says why this one and not the alpha forest). The figures section shows the others.
LEAD_FIGURE = "preference_rate"
# What opens a heading, quote, list or rule at a line start (e.g. a list item's text).
BLOCK_START = re.compile(r"^(#{1,6}(?=\s|$)|>|[+\-](?=\s|$)|[-=]{2,})|^(\d{1,9})([.)])(?=\s|$)")
# `_` between two letters or digits cannot start emphasis (CommonMark), so mean_logprob stays readable.
INLINE_SPECIAL = re.compile(r"([\\`*\[\]|~$]|(?<![^\W_])_|_(?![^\W_]))")
TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # only `<` that could open a tag, comment or autolink
ENTITY_START = re.compile(r"&(?=[#A-Za-z])")


@dataclass
class ReportPaths:
    """The files `render_report` wrote."""

    markdown: Path
    html: Path
    figures: list[Path]


def markdown_escape(text: str) -> str:
    """One line of Markdown that shows `text` literally: no tags, entities, emphasis, links or cells."""
    text = " ".join(str(text).split())
    text = ENTITY_START.sub("&amp;", text)
    text = TAG_START.sub("&lt;", text)
    text = INLINE_SPECIAL.sub(r"\\\1", text)
    # Backslash-escape the marker (for "1." the dot: a backslash before a digit is literal).
    return BLOCK_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), text, count=1)


def markdown_code_block(text: str) -> Markup:
    """A fenced block showing `text` verbatim; the fence is longer than any backtick run in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return Markup(f"{fence}text\n{text}\n{fence}")


def _finalize_markdown(value) -> str:
    if isinstance(value, Markup):
        return str(value)
    return "" if value is None else markdown_escape(str(value))


def _environment(markdown: bool) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=not markdown,
        finalize=_finalize_markdown if markdown else None,
        undefined=StrictUndefined,  # a template typo fails the tests instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["code_block"] = markdown_code_block
    return environment


def _figure_entries(figures: list[ReportFigure], embed: bool, folder: Path | None) -> list[dict]:
    entries = []
    for item in figures:
        entry = {"name": item.name, "title": item.title, "caption": item.caption, "reason": item.reason, "src": None}
        if item.path is not None:
            if embed:
                entry["src"] = "data:image/png;base64," + base64.b64encode(item.path.read_bytes()).decode("ascii")
            else:
                relative = item.path.relative_to(folder) if folder is not None and item.path.is_relative_to(folder) else item.path
                entry["src"] = Markup(relative.as_posix())
        elif item.reason is None:
            entry["reason"] = "it was drawn but not saved to a file"
        entries.append(entry)
    return entries


def _with_figures(context: dict, entries: list[dict]) -> dict:
    """The lead figure (shown under the answer, or None when the list lacks it) apart from the figures section's."""
    context["lead_figure"] = next((entry for entry in entries if entry["name"] == LEAD_FIGURE), None)
    context["figures"] = [entry for entry in entries if entry["name"] != LEAD_FIGURE]
    return context


def render_markdown(audit: AuditFolder, figures: list[ReportFigure]) -> str:
    """report.md: figures linked by relative path (figures/NAME.png)."""
    context = _with_figures(report_context(audit), _figure_entries(figures, embed=False, folder=audit.folder))
    return printable(_environment(markdown=True).get_template("report.md.j2").render(**context))


def render_html(audit: AuditFolder, figures: list[ReportFigure]) -> str:
    """report.html: one self-contained file, figures embedded as data URIs."""
    context = _with_figures(report_context(audit), _figure_entries(figures, embed=True, folder=audit.folder))
    return printable(_environment(markdown=False).get_template("report.html.j2").render(**context))


def render_report(folder: str | Path) -> ReportPaths:
    """Draw the figures and write report.md and report.html into a finished audit folder."""
    require_path("render_report", "folder", folder)
    folder = Path(folder)
    audit = read_audit(folder)
    figures = draw_figures(audit, folder / FIGURES_FOLDER)
    markdown_path, html_path = folder / REPORT_MARKDOWN_FILE, folder / REPORT_HTML_FILE
    markdown_path.write_text(render_markdown(audit, figures), encoding="utf-8")
    html_path.write_text(render_html(audit, figures), encoding="utf-8")
    return ReportPaths(markdown=markdown_path, html=html_path, figures=[item.path for item in figures if item.path is not None])
