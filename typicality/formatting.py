"""How numbers are worded: one formatter per kind of number, shared by the HTML and Markdown reports,
the terminal, the comparison and the typed results' `summary()`.

It sits below every other module (it imports none of them) so that `typicality.results`, whose
`summary()` words its numbers, can use the same formatters as the report. A missing, null or
non-finite number becomes "not available" (never NaN).
"""

from __future__ import annotations

import math

NOT_AVAILABLE = "not available"


def number(value) -> float | None:
    """A finite float, or None for anything missing, null, NaN, infinite or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def fmt(value, digits: int = 3) -> str:
    x = number(value)
    return NOT_AVAILABLE if x is None else f"{x:.{digits}f}"


def fmt_coef(value) -> str:
    """A coefficient or SE: 3 decimals, or 3 significant digits below 0.1 (sum-typicality alphas are ~0.001)."""
    x = number(value)
    if x is None:
        return NOT_AVAILABLE
    x += 0.0  # no "-0.000"
    return f"{x:.3f}" if abs(x) >= 0.1 or x == 0 else f"{x:.3g}"


def fmt_signed(value, digits: int = 2) -> str:
    x = number(value)
    return NOT_AVAILABLE if x is None else f"{x:+.{digits}f}"


def fmt_p(value) -> str:
    x = number(value)
    if x is None:
        return NOT_AVAILABLE
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def fmt_count(value) -> str:
    x = number(value)
    return NOT_AVAILABLE if x is None else f"{round(x):,}"


def fmt_percent(value, digits: int = 1) -> str:
    x = number(value)
    return NOT_AVAILABLE if x is None else f"{100 * x:.{digits}f}%"


def fmt_interval(low, high) -> str:
    if number(low) is None or number(high) is None:
        return NOT_AVAILABLE
    return f"{fmt_coef(low)} to {fmt_coef(high)}"


def fmt_value(value) -> str:
    """Any recorded value (model card, software): yes/no, counts with separators, 4 significant digits."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "not recorded"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        x = number(value)
        if x is None:
            return "not recorded"
        if x.is_integer() and abs(x) < 1e15:
            return f"{round(x):,}"
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_value(item) for item in value) if value else "none"
    text = str(value)
    return text if text.strip() else "not recorded"


def fmt_p_clause(value) -> str:
    """A p-value as the clause after "p": "< 0.001" or "= 0.123"."""
    text = fmt_p(value)
    return text if text.startswith("<") or text == NOT_AVAILABLE else f"= {text}"


SLICE_NAME_CHARS = 40  # a slice name from the data (COLUMN=VALUE) is cut to this in table cells; results.json keeps it whole


def fmt_slice(name: str, limit: int = SLICE_NAME_CHARS) -> str:
    """A slice name short enough for a table cell: when longer than `limit`, its start and its end around an ellipsis
    (values of one column often share a long start and differ at the end)."""
    name = str(name)
    if len(name) <= limit:
        return name
    tail = (limit - 1) // 3
    return f"{name[: limit - 1 - tail]}…{name[len(name) - tail:]}"


def clip_end(text: str, limit: int) -> str:
    """The last `limit` characters (a prompt's end is what the response answers), saying how much was left out."""
    text = text.strip("\r\n")
    if len(text) <= limit:
        return text
    start = len(text) - limit
    space = text.find(" ", start, start + int(limit * 0.2))
    start = space + 1 if space >= 0 else start
    return f"[{start:,} earlier characters] … {text[start:].lstrip()}"


def fit_label(estimate) -> str:
    """A short name for a fit (a `typicality.results.Estimate`): slice, typicality definition and controls."""
    return f"{estimate.slice} · {estimate.typicality} · {' + '.join(estimate.controls) or 'no controls'}"


def truncation_note(response_truncated, window) -> str | None:
    """The responses cut to the window as one sentence (score card, terminal and report say the same), or None when none was cut."""
    cut = number(response_truncated)
    if not cut:
        return None
    window = number(window)
    where = f"the model's window of {fmt_count(window)} tokens" if window else "the model's window"
    return (
        f"{fmt_count(cut)} {'response was' if cut == 1 else 'responses were'} longer than {where}: "
        f"{'it was' if cut == 1 else 'each was'} scored on its beginning only (its tail cut, and its prompt with it), "
        "so its typicality describes that beginning, not the whole response."
    )
