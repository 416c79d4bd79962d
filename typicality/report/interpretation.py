"""What alpha means and how far to trust it, worded from results.json; nothing is estimated or decided here.

Reads `interpretation` (bias estimate controlled for a named quality rating, or association; few
prompts), `sensitivity` (E-values), `headline.alpha_change` (with its bootstrap CI), `ties`,
`multiplicity`, `negative_control` and the agreement's clustered interval.
"""

from __future__ import annotations

from typicality.formatting import fmt, fmt_coef, fmt_p_clause
from typicality.report.section import Column, Section, Table
from typicality.results import AuditResults, Estimate, Interpretation

TIES_COLUMNS = (
    Column("fit"),
    Column("alpha, ties dropped (published)", interval=True),
    Column("alpha, ties kept (Rao-Kupper)", interval=True),
    Column("alpha/beta, ties dropped", interval=True),
    Column("alpha/beta, ties kept", interval=True),
)


def ci_words(estimate: Estimate, few_prompts: bool) -> str:
    """'95% CI' or, when results.json says the headline rests on few prompts, the words that say the interval is approximate."""
    if few_prompts:
        return f"approximate 95% CI (only {estimate.n_clusters} prompts; t with {estimate.n_clusters - 1} df)"
    return "95% CI"


def alpha_subject(interpretation: Interpretation) -> str:
    """How the headline sentence names alpha: a bias estimate controlled for X, or an association."""
    if interpretation.is_bias_estimate:
        return f"The typicality-bias estimate alpha, controlled for {interpretation.quality_control},"
    return (
        "The association between typicality and preference, alpha (an association, not a bias estimate: "
        "no quality rating is controlled, so better responses may be both preferred and more typical),"
    )


def validity_section(results: AuditResults) -> Section:
    """The report's 'What alpha means' section: sentences and a table of the tie-dropping vs tie-aware fits."""
    interpretation = results.interpretation
    sentences = [interpretation.statement]
    if interpretation.ci_note:
        sentences.append(f"Small sample: {interpretation.ci_note}.")
    sensitivity = results.sensitivity
    if sensitivity.available:
        sentences.append(f"Sensitivity to unmeasured confounding (E-value, {sensitivity.reference}): {sensitivity.meaning}")
    change = results.headline.alpha_change
    if change is not None and change.bootstrapped:
        excludes = not (change.ci_low <= 0 <= change.ci_high)
        sentences.append(
            f"Length: adding the length control changes alpha by {change.estimate:+.3f} (cluster-bootstrap 95% CI "
            f"{fmt_coef(change.ci_low)} to {fmt_coef(change.ci_high)}); the interval {'excludes' if excludes else 'includes'} no change. "
            "A logit coefficient can move when a control is added even without confounding, so read a change as a prompt to look."
        )
    ties = results.ties
    rows = []
    if ties is not None:
        sentences.append(
            f"Ties: {ties.n_ties:,} of {ties.n_pairs:,} pairs are tied. "
            "The published fit drops them, which inflates every coefficient by a common factor (about 1.23 at 5 rating levels in simulation); "
            "the ratio alpha / beta of the quality rating cancels that factor, and the Rao-Kupper fit keeps the ties (about 8% low at 5 levels). "
            "The truth lies between the two alphas; the ratio is the number to compare across datasets with different rating scales."
        )
        for pair in ties.pairs_of_fits:
            dropping, aware = results.estimate(pair.tie_dropping), results.estimate(pair.tie_aware)
            if dropping is None or aware is None:  # an id that names no estimate (a hand edit): no row
                continue
            rows.append((
                f"{dropping.slice}, controls: {' + '.join(dropping.controls) or 'none'}",
                _fit_text(dropping, short=True),
                _fit_text(aware, short=True),
                _ratio_text(dropping.ratio),
                _ratio_text(aware.ratio),
            ))
    negative = results.negative_control
    if negative is not None and negative.available:
        specific, generic = results.estimate(negative.prompt_specific), results.estimate(negative.unconditional)
        few = interpretation.few_prompts  # the negative control refits the headline on its pairs: the same prompts
        sentences.append(
            f"Fluency negative control: on the prompt-specific part of typicality, Δ[l(y|x) − l(y)], alpha is {_fit_text(specific, few_prompts=few)}; "
            f"on the response's fluency alone, Δl(y), {_fit_text(generic, few_prompts=few)}. {negative.meaning}"
        )
    sentences.append(
        f"Multiple fits: the headline fit was pre-specified and is tested on its own; the other {len(results.multiplicity.family)} "
        "fitted estimates carry Holm-adjusted p-values (column 'p (Holm)' of the estimates table)."
    )
    clustered = results.agreement.clustered  # prompts with several pairs: se, ci_low, ci_high, p_value, df, design_effect
    if clustered is not None:
        sentences.append(
            f"Agreement with several pairs per prompt: the prompt-clustered 95% CI is {100 * clustered['ci_low']:.1f}% to "
            f"{100 * clustered['ci_high']:.1f}% (design effect {fmt(clustered['design_effect'], 2)}), wider than the Wilson "
            "interval, which treats pairs of one prompt as independent."
        )
    return Section(
        "validity",
        "What alpha means, and how far to trust it",
        tuple(s for s in sentences if s),
        tables=(Table(TIES_COLUMNS, tuple(rows), wide=True),) if rows else (),
        listed=True,
    )


def _fit_text(estimate: Estimate | None, short: bool = False, few_prompts: bool = False) -> str:
    if estimate is None:
        return "not available"
    if not estimate.fitted:
        return f"not available ({estimate.reason or 'not fitted'})"
    if short:  # a table cell: the CI's wording is in the headline
        return f"{fmt_coef(estimate.alpha)} ({fmt_coef(estimate.ci_low)} to {fmt_coef(estimate.ci_high)})"
    return (
        f"{fmt_coef(estimate.alpha)} ({ci_words(estimate, few_prompts)} {fmt_coef(estimate.ci_low)} "
        f"to {fmt_coef(estimate.ci_high)}, p {fmt_p_clause(estimate.p_value)})"
    )


def _ratio_text(ratio: dict | None) -> str:
    """alpha / beta of the quality rating (an estimate's `ratio`: estimate, se, ci_low, ci_high, ...), or a dash."""
    if ratio is None:
        return "–"
    return f"{fmt_coef(ratio['estimate'])} ({fmt_coef(ratio['ci_low'])} to {fmt_coef(ratio['ci_high'])})"
