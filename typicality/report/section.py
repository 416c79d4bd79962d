"""One shape for a results section of the audit report: a title, sentences, tables and a note, all strings already formatted.

A section is a function AuditFolder -> Section | None (None: the section does not apply, e.g. no influence.json);
`typicality.report.content.SECTIONS` lists them in report order, and one macro per output format
(templates/section.md.j2, templates/section.html.j2) renders any Section. Adding a section is one function and one
line in that list; nothing here formats a number (typicality.formatting does, in the section's function).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A table column: its header and how its cells are set (`number`: right-aligned; `interval`: kept on one line in HTML)."""

    header: str
    number: bool = False
    interval: bool = False


@dataclass(frozen=True)
class Table:
    """A table of formatted strings, one tuple per row in column order; `intro` is the sentence shown just before it."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    intro: str = ""
    wide: bool = False  # HTML: in a horizontally scrolling box (a table too wide for the page)

    def __post_init__(self):
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row of the table {[c.header for c in self.columns]} has {len(row)} cells for {len(self.columns)} columns")


@dataclass(frozen=True)
class Section:
    """A report section: `id` is its HTML anchor; sentences show as paragraphs, or as a list with `listed`; the note comes last, in small type."""

    id: str
    title: str
    sentences: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    note: str = ""
    listed: bool = False
