"""The report's "Who and where" section: words, a table and the caterpillar figure for results.json's `groups` (stats/groups.py).

Present only when the audit was fitted with --by COLUMN; nothing is estimated here. The words
follow the headline's: a bias estimate when the headline holds a quality rating fixed, an
association otherwise (results.json's `interpretation`).
"""

from __future__ import annotations

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from typicality.formatting import fmt_coef, fmt_count, fmt_interval, fmt_p, fmt_p_clause, fmt_percent
from typicality.report.section import Column, Section, Table
from typicality.results import AuditResults, GroupAlpha, Groups
from typicality.stats.groups import OTHER_GROUP

TABLE_ENDS = 20  # with more than twice this many groups, the table shows the highest and lowest this many (and every one that differs)
LABELLED_GROUPS = 60  # the figure names its groups up to this many
NAMED_POOLED = 10  # the pooled small groups named in the text
COLUMNS = (
    Column("group"),
    Column("pairs", number=True),
    Column("prompts", number=True),
    Column("own alpha (SE)", number=True),
    Column("partially pooled alpha", number=True),
    Column("95% interval", interval=True),
    Column("p (Holm)", number=True),
    Column("differs"),
)


def groups_section(results: AuditResults) -> Section | None:
    """Sentences and a table for the section; None when the audit was not fitted by group."""
    groups = results.groups
    if groups is None:
        return None
    title = f"Who and where: alpha by {groups.column}"
    if not groups.available:
        return Section("groups", title, (f"No per-{groups.column} analysis: {groups.reason}.",))
    bias = results.interpretation.is_bias_estimate
    quantity = f"the typicality-bias estimate alpha (controlled for {results.interpretation.quality_control})" if bias else "the association alpha"
    sentences = [_coverage_sentence(groups), _spread_sentence(groups, quantity), _standouts_sentence(groups)]
    if not bias:
        sentences.append(
            f"These are associations, as the headline is: a {groups.column} with a larger alpha may have judged pairs whose better "
            "response was also the more typical one, rather than have favoured typical text."
        )
    sentences.append(
        f"Method: each {groups.column}'s alpha is the headline fit ({groups.estimate}) on its own pairs, prompt-clustered; the groups are then "
        "partially pooled (random effects: each alpha is drawn toward the population's in proportion to its noise, with the between-group "
        "spread tau estimated from the data and its uncertainty carried into every interval); docs/groups.md gives the method and its "
        "validation by simulation."
    )
    rows, note = _table(groups)
    return Section("groups", title, tuple(sentences), tables=(Table(COLUMNS, rows),) if rows else (), note=note)


def _coverage_sentence(groups: Groups) -> str:
    text = f"{fmt_count(groups.n_groups)} values of {groups.column} have at least {groups.min_pairs} pairs each"
    if groups.n_pooled_groups:
        pooled = next((g for g in groups.groups if g.name == OTHER_GROUP), None)
        named = ", ".join(groups.pooled_groups[:NAMED_POOLED]) + (", ..." if groups.n_pooled_groups > NAMED_POOLED else "")
        pairs = f" ({fmt_count(pooled.n_pairs)} pairs)" if pooled is not None else ""
        text += (
            f"; {fmt_count(groups.n_pooled_groups)} smaller ones{pairs} are pooled into one group, shown apart and left out of the "
            f"comparison: {named}"
        )
    if groups.n_pairs_without_group:
        text += f"; {fmt_count(groups.n_pairs_without_group)} pairs have no {groups.column} and are left out"
    return text + "."


def _spread_sentence(groups: Groups, quantity: str) -> str:
    evidence = "evidence" if groups.q_p_value is not None and groups.q_p_value < 0.05 else "no evidence at the 5% level"
    return (
        f"Across them, {quantity} averages {fmt_coef(groups.population_alpha)} (95% interval "
        f"{fmt_interval(groups.population_ci_low, groups.population_ci_high)}), and differs from one {groups.column} to another by a "
        f"standard deviation tau = {fmt_coef(groups.tau)} (95% CI {fmt_interval(groups.tau_ci_low, groups.tau_ci_high)}); "
        f"I² = {fmt_percent(groups.i_squared)} of the spread of their own alphas is between {groups.column}s rather than noise. "
        f"Cochran's test of no difference: Q = {groups.q_statistic:.2f} on {groups.q_df} df, p {fmt_p_clause(groups.q_p_value)}: "
        f"{evidence} that {groups.column}s differ."
    )


def _standouts_sentence(groups: Groups) -> str:
    differing = [g for g in groups.pooled if g.differs]
    if not differing:
        return f"No {groups.column} differs from the population after Holm's correction across the {fmt_count(groups.n_groups)} groups."
    above = [g for g in differing if g.alpha > groups.population_alpha]
    below = [g for g in differing if g.alpha <= groups.population_alpha]
    parts = []
    for members, side in ((above, "above"), (below, "below")):
        if members:
            listed = "; ".join(f"{g.name} ({fmt_coef(g.pooled_alpha)}, {fmt_interval(g.pooled_ci_low, g.pooled_ci_high)})" for g in members[:10])
            parts.append(f"{len(members)} {side} it: {listed}" + ("; ..." if len(members) > 10 else ""))
    return (
        f"After Holm's correction across the {fmt_count(groups.n_groups)} groups, {len(differing)} "
        f"{groups.column}{'s differ' if len(differing) > 1 else ' differs'} from the population ({'; '.join(parts)}; partially pooled alpha and 95% interval)."
    )


def _row(group: GroupAlpha) -> tuple[str, ...]:
    """One row in COLUMNS' order."""
    return (
        group.name,
        fmt_count(group.n_pairs),
        fmt_count(group.n_prompts),
        f"{fmt_coef(group.alpha)} ({fmt_coef(group.se)})" if group.fitted else f"not fitted: {group.reason}",
        fmt_coef(group.pooled_alpha) if group.pooled_alpha is not None else "–",
        fmt_interval(group.pooled_ci_low, group.pooled_ci_high) if group.pooled_alpha is not None else "–",
        fmt_p(group.p_holm) if group.p_holm is not None else "–",
        "yes" if group.differs else ("no" if group.differs is not None else "–"),
    )


def _table(groups: Groups) -> tuple[tuple[tuple[str, ...], ...], str]:
    """Rows by partially pooled alpha, highest first; then the groups without one (the pooled small groups, fits that failed)."""
    ranked = groups.pooled[::-1]
    note = ""
    if len(ranked) > 2 * TABLE_ENDS:
        shown = {id(g) for g in ranked[:TABLE_ENDS] + ranked[-TABLE_ENDS:]} | {id(g) for g in ranked if g.differs}
        note = f"The {TABLE_ENDS} highest and {TABLE_ENDS} lowest of {fmt_count(len(ranked))} groups, and every one that differs; results.json lists all."
        ranked = [g for g in ranked if id(g) in shown]
    rest = [g for g in groups.groups if g.pooled_alpha is None]
    return tuple(_row(g) for g in ranked + rest), note


def plot_caterpillar(groups: Groups) -> Figure:
    """Each group's partially pooled alpha with its 95% interval, sorted; its own alpha as a faint mark; the population's alpha and band."""
    from typicality.report.figures import _new_figure, _style

    ranked = groups.pooled
    y = np.arange(len(ranked))
    with _style():
        figure = _new_figure(height=min(2.0 + 0.18 * len(ranked), 12.0))
        ax = figure.subplots()
        ax.axvspan(groups.population_ci_low, groups.population_ci_high, color="#DD8452", alpha=0.18, linewidth=0, label="population alpha, 95% interval")
        ax.axvline(groups.population_alpha, color="#DD8452", linewidth=1.5)
        ax.axvline(0.0, color="black", linewidth=1, linestyle="--")
        ax.plot([g.alpha for g in ranked], y, "x", color="#8C8C8C", alpha=0.45, markersize=5, linestyle="none", label="the group's own alpha")
        colors = ["#C44E52" if g.differs else "#4C72B0" for g in ranked]
        ax.hlines(y, [g.pooled_ci_low for g in ranked], [g.pooled_ci_high for g in ranked], colors=colors, linewidth=1.2)
        ax.scatter([g.pooled_alpha for g in ranked], y, c=colors, s=16, zorder=3, label="partially pooled alpha, 95% interval")
        if len(ranked) <= LABELLED_GROUPS:
            ax.set_yticks(y, [g.name.replace("$", r"\$") for g in ranked], fontsize=7)  # a name is data: no mathtext
        else:
            ax.set_yticks([])
            ax.set_ylabel(f"{len(ranked):,} values of {groups.column.replace('$', chr(92) + '$')}, sorted", fontsize=8)
        ax.set_ylim(-0.8, len(ranked) - 0.2)
        ax.set_xlabel("alpha (log-odds per unit of Δ typicality)", fontsize=8)
        ax.legend(loc="lower right", fontsize=7, frameon=True)
        sns.despine(ax=ax, left=True)
    return figure


def caterpillar_figure(audit):
    """The report's figure for `groups`, or None when the audit was not fitted by group (no entry at all then)."""
    from typicality.report.figures import ReportFigure

    groups = audit.results.groups
    if groups is None:
        return None
    item = ReportFigure(
        "groups",
        f"Alpha by {groups.column}, partially pooled",
        f"Each {groups.column} with at least {groups.min_pairs} pairs: its partially pooled alpha with the 95% interval (red: differs from the "
        "population after Holm's correction), sorted; grey crosses: its own alpha, before pooling; orange line and band: the population's "
        "alpha and its 95% interval.",
    )
    if not groups.available:
        item.reason = groups.reason
    else:
        item.figure = plot_caterpillar(groups)
    return item
