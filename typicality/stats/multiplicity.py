"""Holm-adjusted p-values across the robustness set; the headline fit is pre-specified and keeps its own p.

The robustness set (mean vs summed typicality, with and without length, slices, the tie-aware
and other robustness rows) asks many questions of one dataset; reading any one of them as
"significant" at 0.05 needs a family-wise correction. Holm's step-down method controls the
family-wise error rate without assuming independence between the fits (they share pairs).
The headline fit is named in advance (analysis.headline), so it is tested at its own level.
"""

from __future__ import annotations

from statsmodels.stats.multitest import multipletests

from typicality.results import Estimate, Multiplicity


def holm_adjust(estimates: list[Estimate], headline_id: str | None) -> tuple[list[Estimate], Multiplicity]:
    """The estimates with `p_holm` on every fitted one but the headline, and results.json `multiplicity`."""
    members = [index for index, e in enumerate(estimates) if e.id != headline_id and e.fitted and e.p_value is not None]
    adjusted_estimates = list(estimates)
    if members:
        _, adjusted, _, _ = multipletests([estimates[index].p_value for index in members], alpha=0.05, method="holm")
        for index, value in zip(members, adjusted):
            adjusted_estimates[index] = estimates[index].replace(p_holm=float(value))
    family = [estimates[index].id for index in members]
    return adjusted_estimates, Multiplicity(
        method="holm",
        pre_specified=headline_id,
        family=family,
        note="The headline fit is pre-specified and keeps its own p-value; every other "
             "fitted estimate carries a Holm-adjusted p-value (p_holm) across this family.",
    )
