"""Compare finished audits: one dataset under several reference models, or several datasets.

    results = typicality.compare(["audit-gemma", "audit-gemma-q4"], out="comparison")   # models
    results = typicality.compare(["audit-helpful", "audit-harmless"])                 # datasets

Audits are read only through `typicality.audit_folder.read_audit`. The kind is decided from the
audits (`kind="auto"`): all of one dataset -> a model comparison (they must share their pairs);
otherwise a dataset comparison (one audit per dataset). `effect` picks the fit compared: each
audit's headline, or its length-controlled twin.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from typicality.software import software_versions
from typicality.stats.compare.datasets import compare_datasets
from typicality.stats.compare.folder import save_comparison
from typicality.stats.compare.inputs import EFFECTS, KINDS, ComparedAudit, classify, read_audits
from typicality.stats.compare.models import compare_models

__all__ = ["EFFECTS", "KINDS", "ComparisonResults", "compare", "compare_audits"]


class ComparisonResults(dict):
    """comparison.json's content as a plain dict; `typicality` holds each response's typicality per model (model comparisons)."""

    def __init__(self, content: dict, typicality: pd.DataFrame | None = None) -> None:
        super().__init__(content)
        self.typicality = typicality

    def save(self, folder: str | Path) -> Path:
        return save_comparison(self, folder, self.typicality)

    def summary(self) -> str:
        from typicality.report.comparison import summary_sentences

        return "\n".join(summary_sentences(self))


def compare_audits(audits: list[ComparedAudit], kind: str = "auto") -> ComparisonResults:
    """The comparison of audits already read (see `read_audits`)."""
    kind = classify(audits, kind)
    warnings: list[str] = []
    content = {"kind": kind, "audits": [item.describe() for item in audits]}
    typicality = None
    if kind == "models":
        spec = audits[0].estimate
        content["models"], typicality = compare_models(audits, spec)
        if content["models"]["n_pairs"] < len(audits[0].audit.pairs.frame):
            warnings.append(f"The model comparison uses the {content['models']['n_pairs']:,} pairs of slice '{spec['slice']}' complete under every model.")
    else:
        content["datasets"], dataset_warnings = compare_datasets(audits)
        warnings.extend(dataset_warnings)
    for item in audits:
        warnings.extend(f"{item.label}: {message}" for message in item.estimate.get("warnings", []))
    content["warnings"] = warnings
    content["software"] = software_versions(("typicality", "numpy", "pandas", "scipy", "statsmodels"))
    return ComparisonResults(content, typicality)


def compare(folders, *, kind: str = "auto", effect: str = "headline", labels=None, out: str | Path | None = None) -> ComparisonResults:
    """Compare finished audit folders; with `out`, also write comparison.json and the report there."""
    audits = read_audits(folders, labels=labels, effect=effect)
    results = compare_audits(audits, kind)
    results["effect"] = effect
    if out is not None:
        from typicality.report.comparison import render_comparison

        results.save(out)
        render_comparison(out)
    return results
