"""How strong an unmeasured quality confounder would have to be to explain alpha away: the E-value.

Method (VanderWeele & Ding 2017, Ann Intern Med 167:268): the E-value is the minimum strength
of association, on the risk-ratio scale, that an unmeasured confounder would need with both
the exposure and the outcome, conditional on the measured controls, to fully explain away an
observed association: E = RR + sqrt(RR * (RR - 1)) for RR >= 1 (1/RR first when RR < 1).
Here the exposure is a 1-SD difference in typicality and the outcome is "preferred"; the
fit gives an odds ratio per SD, and since preference is a common outcome (about half the
pairs), the odds ratio is turned into an approximate risk ratio by its square root
(VanderWeele 2017's conversion for outcomes more common than 15%). The E-value of the CI
limit nearer 1 says how strong a confounder would have to be to move the CI to include 1.

Why the E-value rather than a simulation-calibrated bias curve: it needs no model of how
quality, typicality and preference are related (which a curve would have to assume), it is
one number per estimate that a referee knows how to read, and it applies the same way to
data with and without a quality rating. Its limits: it is a bound (a confounder that strong
*could* explain the estimate away, not *would*), and the square-root conversion is an
approximation.
"""

from __future__ import annotations

import math

from typicality.results import Estimate, Sensitivity

REFERENCE = "VanderWeele & Ding (2017), Ann Intern Med 167:268; common-outcome conversion RR = sqrt(OR) (VanderWeele 2017)"


def e_value(risk_ratio: float) -> float:
    """The E-value of a risk ratio (1 for a ratio of exactly 1)."""
    if not (risk_ratio > 0 and math.isfinite(risk_ratio)):
        raise ValueError(f"a risk ratio must be positive and finite, got {risk_ratio}")
    rr = risk_ratio if risk_ratio >= 1 else 1 / risk_ratio
    return rr + math.sqrt(rr * (rr - 1))


def odds_ratio_e_values(odds_ratio: float, ci_low: float, ci_high: float) -> dict:
    """E-values of an odds ratio for a common outcome, and of its CI limit nearer 1 (1 when the CI holds 1)."""
    risk_ratio = math.sqrt(odds_ratio)
    if ci_low <= 1 <= ci_high:
        limit = 1.0
    else:
        limit = math.sqrt(ci_low if odds_ratio > 1 else ci_high)
    return {"risk_ratio": risk_ratio, "e_value": e_value(risk_ratio), "e_value_ci": e_value(limit)}


def sensitivity(estimate: Estimate | None) -> Sensitivity:
    """results.json `sensitivity` for one estimate (the headline, when fitted): E-values of its odds ratio per SD."""
    base = {"method": "E-value", "reference": REFERENCE, "estimate": estimate.id if estimate else None}
    if estimate is None or estimate.alpha is None or estimate.sd_delta is None:
        return Sensitivity(**base, available=False, reason="the headline fit is not available")
    sd = estimate.sd_delta
    odds_ratio = math.exp(estimate.alpha * sd)
    low, high = math.exp(estimate.ci_low * sd), math.exp(estimate.ci_high * sd)
    values = odds_ratio_e_values(odds_ratio, low, high)
    return Sensitivity(
        **base,
        available=True,
        odds_ratio_per_sd=odds_ratio,
        odds_ratio_ci=[low, high],
        **values,
        meaning=(
            f"An unmeasured confounder (such as quality the controls miss) associated with both a 1-SD typicality difference "
            f"and being preferred by a risk ratio of {values['e_value']:.2f} each, beyond the controls, could explain this alpha away"
            + (
                "; its 95% CI already includes no effect."
                if values["e_value_ci"] == 1.0
                else f"; one of {values['e_value_ci']:.2f} each could move its 95% CI to include no effect. Weaker confounding could not."
            )
        ),
    )
