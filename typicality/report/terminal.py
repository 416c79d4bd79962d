"""The estimates as a table in the terminal (`typicality fit`, `typicality audit`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from typicality.results import AuditResults


def print_results(results: AuditResults) -> None:
    """The estimates as a table, then agreement, ordinal model and warnings."""
    console = Console(width=160)
    table = Table(title=f"Typicality bias in {results.dataset.name} ({results.pairs['pairs']} pairs)")
    for column in ("slice", "typicality", "controls", "alpha", "SE", "95% CI", "p", "OR/SD", "win +/-1SD", "pairs", "prompts"):
        table.add_column(column)
    for e in results.estimates:
        head = [e.slice, e.typicality, ", ".join(e.controls) or "-"]
        if not e.fitted:
            table.add_row(*head, f"not fitted: {e.reason}", "", "", "", "", "", str(e.n_pairs), str(e.n_clusters))
            continue
        table.add_row(
            *head, f"{e.alpha:.4g}", f"{e.se:.3g}", f"{e.ci_low:.3g} to {e.ci_high:.3g}", f"{e.p_value:.2g}",
            f"{e.odds_ratio_per_sd:.2f}", f"{e.win_prob_change:+.2f}", str(e.n_pairs), str(e.n_clusters),
        )
    console.print(table)
    agreement = results.agreement
    if agreement.rate is not None:
        console.print(
            f"agreement: {agreement.rate:.1%} of {agreement.n_pairs} pairs prefer the more typical response "
            f"(Wilson 95% CI {agreement.ci_low:.1%} to {agreement.ci_high:.1%}; binomial p = {agreement.p_value:.2g})"
        )
    ordinal = results.ordinal
    if ordinal is not None and ordinal.fitted:
        console.print(
            f"ordinal logit of {ordinal.outcome}: {ordinal.typicality} {ordinal.coef:.3g} (SE "
            f"{ordinal.se:.3g}); LR = {ordinal.lr_statistic:.2f}, p = {ordinal.lr_p_value:.2g}"
        )
    for message in results.warnings:
        console.print(f"warning: {message}", markup=False, highlight=False)
