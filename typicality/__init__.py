"""Audit preference datasets for typicality bias.

The pipeline, one function per stage (all importable from here, loaded on first use so that
`import typicality` stays light):

    data = typicality.load("hh-rlhf", data_files="test.jsonl.gz", limit=200)   # stage 1: data
    scores = typicality.score(data)                                            # stage 2: scoring
    results = typicality.analyze(data, scores)                                 # stage 3: stats
    typicality.audit(typicality.LoadRequest("hh-rlhf", data_files=(...,)), "audit-dir")  # all four, with the report
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "load": "typicality.data",
    "LoadRequest": "typicality.data",
    "ScoringOptions": "typicality.scoring.options",
    "PreferenceData": "typicality.domain",
    "score": "typicality.scoring",
    "load_scores": "typicality.audit_folder",
    "save_scores": "typicality.audit_folder",
    "ScoreResult": "typicality.domain",
    "PairDesign": "typicality.domain",
    "read_audit": "typicality.audit_folder",
    "load_results": "typicality.audit_folder",
    "save_analysis": "typicality.audit_folder",
    "AuditResults": "typicality.results",
    "Estimate": "typicality.results",
    "AnalysisOptions": "typicality.stats",
    "analyze": "typicality.stats",
    "analyze_with_design": "typicality.stats",
    "build_pairs": "typicality.stats",
    "TypicalityBias": "typicality.stats",
    "agreement_rate": "typicality.stats",
    "simulate": "typicality.stats",
    "render_report": "typicality.report",
    "draw_figures": "typicality.report",
    "AuditFolder": "typicality.audit_folder",
    "audit": "typicality.pipeline",
    "compare": "typicality.pipeline",
    "explain": "typicality.explanation",
    "plan": "typicality.stats.power",
    "plan_from_audit": "typicality.stats.power",
    "export": "typicality.debiased_export",
    "TypicalityError": "typicality.errors",
}

__all__ = sorted(_PUBLIC)

# Modules the command line reaches through the package (`typicality.pipeline.write_influence`), loaded on first use too.
_MODULES = ("audit_folder", "comparison_folder", "output_folder", "pipeline")


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"typicality.{name}")
    raise AttributeError(f"module 'typicality' has no attribute {name!r}")
