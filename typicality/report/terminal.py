"""The estimates as a table in the terminal (`typicality fit`, `typicality audit`).

The numbers are worded by `typicality.formatting`, and the agreement and ordinal lines are the
typed results' own `summary()` sentences, so the terminal, the report and a notebook say the same.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from typicality.formatting import fmt, fmt_coef, fmt_count, fmt_interval, fmt_p, fmt_signed
from typicality.results import AuditResults


def print_results(results: AuditResults) -> None:
    """The estimates as a table, then agreement, ordinal model and warnings."""
    console = Console(width=160)
    table = Table(title=f"Typicality bias in {results.dataset.name} ({fmt_count(results.pairs['pairs'])} pairs)")
    for column in ("slice", "typicality", "controls", "alpha", "SE", "95% CI", "p", "OR/SD", "win +/-1SD", "pairs", "prompts"):
        table.add_column(column)
    for e in results.estimates:
        head = [e.slice, e.typicality, ", ".join(e.controls) or "-"]
        counts = [fmt_count(e.n_pairs), fmt_count(e.n_clusters)]
        if not e.fitted:
            table.add_row(*head, f"not fitted: {e.reason}", "", "", "", "", "", *counts)
            continue
        table.add_row(
            *head, fmt_coef(e.alpha), fmt_coef(e.se), fmt_interval(e.ci_low, e.ci_high), fmt_p(e.p_value),
            fmt(e.odds_ratio_per_sd, 2), fmt_signed(e.win_prob_change), *counts,
        )
    console.print(table)
    sentences = [results.agreement.summary()]
    if results.ordinal is not None and results.ordinal.fitted:
        sentences.append(results.ordinal.summary())
    if results.groups is not None:
        sentences.append(results.groups.summary())
    sentences.extend(f"warning: {message}" for message in results.warnings)
    for sentence in sentences:
        console.print(sentence, markup=False, highlight=False)
