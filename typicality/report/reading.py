"""Reading the numbers of results.json for display: formatting helpers, no decisions.

Every decision (which fit is the headline, its length-controlled twin, slice membership) is
made by the stats stage and named in results.json; these helpers only look the named records
up and turn missing or null numbers into None.
"""

from __future__ import annotations

import math

import pandas as pd

from typicality.stats.records import estimate_record, headline_record


def number(value) -> float | None:
    """A finite float, or None for anything missing, null, NaN, infinite or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def controls_of(estimate: dict) -> list[str]:
    """An estimate's controls (results.json stores a list)."""
    return [str(control) for control in estimate.get("controls") or []]


def estimates_of(results: dict) -> list[dict]:
    estimates = results.get("estimates")
    return [estimate for estimate in estimates if isinstance(estimate, dict)] if isinstance(estimates, list) else []


def is_fitted(estimate: dict) -> bool:
    return estimate.get("fitted") is not False and number(estimate.get("alpha")) is not None


def estimate_by_id(results: dict, estimate_id) -> dict | None:
    return estimate_record(results, estimate_id)


def named_estimate(results: dict, role: str) -> dict | None:
    """The estimate results.json's `headline` names for a role (stats/records.py): "estimate" (the headline),
    "length_controlled" (its twin) or "curve" (the no-controls fit the preference-rate curve draws)."""
    return headline_record(results, role)


def decisive_pairs(pairs: pd.DataFrame, column: str = "delta_mean_logprob") -> pd.DataFrame:
    """Pairs with a winner (ties left out), with `delta_preferred` = preferred minus rejected.

    The pair table stores Δ as first minus second and `label` = 1 when the first is preferred,
    so the preferred-minus-rejected Δ is Δ when label is 1 and -Δ when label is 0.
    """
    labels = pd.to_numeric(pairs["label"], errors="coerce")
    decisive = pairs[labels.isin([0.0, 1.0]) & pairs[column].notna()].copy()
    first_preferred = decisive["label"].astype(float) == 1.0
    decisive["delta_preferred"] = decisive[column].where(first_preferred, -decisive[column]).astype(float)
    decisive["preferred_id"] = decisive["response_a"].where(first_preferred, decisive["response_b"])
    decisive["rejected_id"] = decisive["response_b"].where(first_preferred, decisive["response_a"])
    return decisive


