"""Holm-adjusted p-values across the robustness set; the headline fit is pre-specified and keeps its own p.

The robustness set (mean vs summed typicality, with and without length, slices, the tie-aware
and other robustness rows) asks many questions of one dataset; reading any one of them as
"significant" at 0.05 needs a family-wise correction. Holm's step-down method controls the
family-wise error rate without assuming independence between the fits (they share pairs).
The headline fit is named in advance (analysis.headline), so it is tested at its own level.
"""

from __future__ import annotations

from statsmodels.stats.multitest import multipletests


def holm_adjust(estimates: list[dict], headline_id: str | None) -> dict:
    """Set `p_holm` on every fitted estimate but the headline; return results.json `multiplicity`."""
    family = [e for e in estimates if e.get("id") != headline_id and e.get("fitted") and e.get("p_value") is not None]
    if family:
        _, adjusted, _, _ = multipletests([e["p_value"] for e in family], alpha=0.05, method="holm")
        for record, value in zip(family, adjusted):
            record["p_holm"] = float(value)
    return {
        "method": "holm",
        "pre_specified": headline_id,
        "family": [e["id"] for e in family],
        "note": "The headline fit is pre-specified and keeps its own p-value; every other "
                "fitted estimate carries a Holm-adjusted p-value (p_holm) across this family.",
    }
