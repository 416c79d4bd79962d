"""Stage 4: figures and the Markdown/HTML report of a finished audit folder (read through typicality.audit_folder)."""

from typicality.audit_folder import AuditFolder, read_audit
from typicality.report.figures import ReportFigure, draw_figures
from typicality.report.published import PUBLISHED_ALPHAS
from typicality.report.render import ReportPaths, render_html, render_markdown, render_report

__all__ = [
    "PUBLISHED_ALPHAS",
    "AuditFolder",
    "ReportFigure",
    "ReportPaths",
    "draw_figures",
    "read_audit",
    "render_html",
    "render_markdown",
    "render_report",
]
