"""Numbers as results.json holds them: finite floats or None, never NaN."""

from __future__ import annotations

import math


def finite_or_none(value) -> float | None:
    """A finite float, or None for NaN, infinity or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
