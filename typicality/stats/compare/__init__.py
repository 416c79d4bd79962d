"""Compare finished audits: one dataset under several reference models, the same pairs under several label sources, or several datasets.

    comparison = typicality.compare(["audit-gemma", "audit-gemma-q4"], out="comparison")   # models (typicality.pipeline.compare)
    comparison = typicality.compare(["audit-pku-better", "audit-pku-safer"])             # label sources
    comparison = typicality.compare(["audit-helpful", "audit-harmless"])                 # datasets

Audits are read only through `typicality.audit_folder.read_audit`. The kind is decided from the
audits (`kind="auto"`, stats/compare/inputs.py): all of one dataset (by provenance) -> a model
comparison (they must share their pairs and labels), or, when their labels differ under one
reference model, a label-source comparison; otherwise a dataset comparison (one audit per
dataset). `kind="labels"` also compares label sources stored as different data (another split
or file holding the same pairs). `effect` picks the fit compared: each
audit's headline, or its length-controlled twin. Writing comparison.json
(typicality.comparison_folder) and the report (typicality.report.comparison) is the
pipeline's (`typicality.pipeline.compare`): this package only computes.
"""

from __future__ import annotations

import pandas as pd

from typicality.display import Card, Displayed, comparison_card
from typicality.software import software_versions
from typicality.stats.compare.datasets import compare_datasets
from typicality.stats.compare.inputs import EFFECTS, KINDS, ComparedAudit, classify, read_audits, shared_pair_counts
from typicality.stats.compare.labels import compare_label_sources
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
    elif kind == "labels":
        spec = audits[0].estimate
        content["labels"] = compare_label_sources(audits, spec)
        if len({item.fingerprint for item in audits}) > 1:
            warnings.append("The audits use different reference models, so a difference between label sources is confounded with the model.")
        unshared = [label for label, judged in content["labels"]["n_pairs_judged"].items() if judged > content["labels"]["n_pairs"]]
        if unshared:
            warnings.append(
                f"The label-source comparison uses the {content['labels']['n_pairs']:,} pairs of slice '{spec.slice}' every source judged; "
                f"{', '.join(unshared)} also judged others."
            )
    else:
        content["datasets"], dataset_warnings = compare_datasets(audits)
        warnings.extend(dataset_warnings)
        warnings.extend(
            f"{first} and {second} share {shared:,} pairs, so they are not independent samples; if these are the same pairs judged by "
            "different annotators, compare them as label sources (--kind labels)."
            for first, second, shared in shared_pair_counts(audits)
        )
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
