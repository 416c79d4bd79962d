"""Compare finished audits: one dataset under several reference models, the same pairs under several label sources, or several datasets.

    comparison = typicality.compare(["audit-gemma", "audit-gemma-q4"], out="comparison")   # models (typicality.pipeline.compare)
    comparison = typicality.compare(["audit-pku-better", "audit-pku-safer"])             # label sources
    comparison = typicality.compare(["audit-helpful", "audit-harmless"])                 # datasets

This package computes on audits already read: the pipeline reads each folder through
`typicality.audit_folder` (`typicality.pipeline.read_compared_audits`) and hands over its typed
results and pair design (`ComparedAudit`). The kind is decided from the audits (`kind="auto"`,
stats/compare/inputs.py): all of one dataset (by provenance) -> a model comparison (they must
share their pairs and labels), or, when their labels differ under one reference model, a
label-source comparison; otherwise a dataset comparison (one audit per dataset).
`kind="labels"` also compares label sources stored as different data (another split or file
holding the same pairs). `effect` picks the fit compared: each audit's headline, or its
length-controlled twin. The result is the typed `ComparisonResults`
(typicality/comparison_results.py); writing comparison.json (typicality.comparison_folder) and
the report (typicality.report.comparison) is the pipeline's (`typicality.pipeline.compare`).
"""

from __future__ import annotations

from typicality.comparison_results import ComparisonResults
from typicality.software import software_versions
from typicality.stats.compare.datasets import compare_datasets
from typicality.stats.compare.inputs import EFFECTS, KINDS, ComparedAudit, check_labels, classify, shared_pair_counts
from typicality.stats.compare.labels import compare_label_sources
from typicality.stats.compare.models import compare_models

__all__ = ["EFFECTS", "KINDS", "ComparedAudit", "ComparisonResults", "compare_audits"]


def compare_audits(audits: list[ComparedAudit], kind: str = "auto", effect: str | None = None) -> ComparisonResults:
    """The comparison of audits already read (`typicality.pipeline.read_compared_audits`, or `ComparedAudit.of` in memory).

    `effect` names the fit the audits' estimates are ("headline" or "length-controlled"); comparison.json records it.
    """
    check_labels(audits)
    kind = classify(audits, kind)
    warnings: list[str] = []
    sections: dict = {}
    typicality = None
    if kind == "models":
        spec = audits[0].estimate
        models, typicality = compare_models(audits, spec)
        sections["models"] = models
        if models.n_pairs < len(audits[0].pairs.frame):
            warnings.append(f"The model comparison uses the {models.n_pairs:,} pairs of slice '{spec.slice}' complete under every model.")
    elif kind == "labels":
        spec = audits[0].estimate
        labels = compare_label_sources(audits, spec)
        sections["labels"] = labels
        if len({item.fingerprint for item in audits}) > 1:
            warnings.append("The audits use different reference models, so a difference between label sources is confounded with the model.")
        unshared = [label for label, judged in labels.n_pairs_judged.items() if judged > labels.n_pairs]
        if unshared:
            warnings.append(
                f"The label-source comparison uses the {labels.n_pairs:,} pairs of slice '{spec.slice}' every source judged; "
                f"{', '.join(unshared)} also judged others."
            )
    else:
        sections["datasets"], dataset_warnings = compare_datasets(audits)
        warnings.extend(dataset_warnings)
        warnings.extend(
            f"{first} and {second} share {shared:,} pairs, so they are not independent samples; if these are the same pairs judged by "
            "different annotators, compare them as label sources (--kind labels)."
            for first, second, shared in shared_pair_counts(audits)
        )
    for item in audits:
        warnings.extend(f"{item.label}: {message}" for message in item.estimate.warnings)
    return ComparisonResults(
        kind=kind,
        audits=[item.describe() for item in audits],
        **sections,
        warnings=warnings,
        software=software_versions(("typicality", "numpy", "pandas", "scipy", "statsmodels")),
        effect=effect,
        typicality=typicality,
    )
