"""Compare finished audits: one dataset under several reference models, or several datasets.

    comparison = typicality.compare(["audit-gemma", "audit-gemma-q4"], out="comparison")   # models (typicality.pipeline.compare)
    comparison = typicality.compare(["audit-helpful", "audit-harmless"])                 # datasets

Audits are read only through `typicality.audit_folder.read_audit`. The kind is decided from the
audits (`kind="auto"`): all of one dataset -> a model comparison (they must share their pairs);
otherwise a dataset comparison (one audit per dataset). `effect` picks the fit compared: each
audit's headline, or its length-controlled twin. Writing comparison.json
(typicality.comparison_folder) and the report (typicality.report.comparison) is the
pipeline's (`typicality.pipeline.compare`): this package only computes.
"""

from __future__ import annotations

import pandas as pd

from typicality.display import Card, Displayed, comparison_card
from typicality.software import software_versions
from typicality.stats.compare.datasets import compare_datasets
from typicality.stats.compare.inputs import EFFECTS, KINDS, ComparedAudit, classify, read_audits
from typicality.stats.compare.models import compare_models

__all__ = ["EFFECTS", "KINDS", "ComparisonResults", "compare", "compare_audits"]


class ComparisonResults(Displayed, dict):
    """comparison.json's content as a plain dict; `typicality` holds each response's typicality per model (model comparisons)."""

    def __init__(self, content: dict, typicality: pd.DataFrame | None = None) -> None:
        super().__init__(content)
        self.typicality = typicality

    def _card(self) -> Card:
        return comparison_card(self)



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
            warnings.append(f"The model comparison uses the {content['models']['n_pairs']:,} pairs of slice '{spec.slice}' complete under every model.")
    else:
        content["datasets"], dataset_warnings = compare_datasets(audits)
        warnings.extend(dataset_warnings)
    for item in audits:
        warnings.extend(f"{item.label}: {message}" for message in item.estimate.warnings)
    content["warnings"] = warnings
    content["software"] = software_versions(("typicality", "numpy", "pandas", "scipy", "statsmodels"))
    return ComparisonResults(content, typicality)


def compare(folders, *, kind: str = "auto", effect: str = "headline", labels=None) -> ComparisonResults:
    """Compare finished audit folders (read through `typicality.audit_folder.read_audit`)."""
    audits = read_audits(folders, labels=labels, effect=effect)
    comparison = compare_audits(audits, kind)
    comparison["effect"] = effect
    return comparison
