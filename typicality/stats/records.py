"""Reading results.json content: the headline and its twins, an estimate by id, and whether a fit controls for quality.

One function per question, used by the stats stage, the export, the comparison, the planner
and the report alike, so the answer is decided in one place.
"""

from __future__ import annotations

EQUAL_CORRECTNESS = "equal-correctness"  # the slice name (stats/pair_design.py), repeated here to keep this module import-free
HEADLINE_ROLES = ("estimate", "length_controlled", "curve")
FEW_PROMPTS = 50  # below this a fit's CI rests on a small-sample approximation: results.json flags it and the report says so


def estimate_record(results: dict, estimate_id: str | None) -> dict | None:
    """The estimate of results.json with this id, or None."""
    if estimate_id is None:
        return None
    return next((record for record in results.get("estimates") or [] if isinstance(record, dict) and record.get("id") == estimate_id), None)


def headline_record(results: dict, role: str = "estimate") -> dict | None:
    """The estimate results.json's headline names for `role`: the headline itself ("estimate"), its
    length-controlled twin ("length_controlled") or the fit the preference-rate curve draws ("curve")."""
    if role not in HEADLINE_ROLES:
        raise ValueError(f"role must be one of {', '.join(HEADLINE_ROLES)}, got {role!r}")
    return estimate_record(results, (results.get("headline") or {}).get(role))


def headline_id(results: dict) -> str | None:
    """The id of the headline estimate, or None when results.json names none."""
    return (results.get("headline") or {}).get("estimate")


def is_quality_controlled(estimate: dict | None, correctness: str | None) -> bool:
    """True when a fit holds quality fixed: the equal-correctness slice, or the quality rating among its controls.

    Data without a quality rating has nothing to control for: every fit counts as controlled here
    (the question "is alpha confounded by quality" cannot be asked of it; `interpretation` says so).
    """
    if not correctness:
        return True
    if not estimate:
        return False
    return estimate.get("slice") == EQUAL_CORRECTNESS or correctness in (estimate.get("controls") or [])
