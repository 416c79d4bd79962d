"""Stage 4: figures and the Markdown/HTML report of a finished audit folder (read through typicality.audit_folder).

Each name loads its module on first use (PEP 562): matplotlib and jinja load only when a report is drawn.
"""

from __future__ import annotations

import importlib

# Public name -> the module that defines it.
_LAZY = {
    "PUBLISHED_ALPHAS": "typicality.report.published",
    "AuditFolder": "typicality.audit_folder",
    "ReportFigure": "typicality.report.figures",
    "ReportPaths": "typicality.report.render",
    "draw_figures": "typicality.report.figures",
    "read_audit": "typicality.audit_folder",
    "render_html": "typicality.report.render",
    "render_markdown": "typicality.report.render",
    "render_report": "typicality.report.render",
    "pair_examples": "typicality.report.terminal",
    "print_pair_examples": "typicality.report.terminal",
    "print_results": "typicality.report.terminal",
    "summary_sentences": "typicality.report.comparison",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'typicality.report' has no attribute {name!r}")
