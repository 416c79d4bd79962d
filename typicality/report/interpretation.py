"""What alpha means and how far to trust it, worded from results.json; nothing is estimated here.

Reads `interpretation` (bias estimate controlled for a named quality rating, or association),
`sensitivity` (E-values), `headline.alpha_change` (with its bootstrap CI), `ties`, `multiplicity`,
`negative_control`, the agreement's clustered interval and the ordinal model's clustered test.
"""

from __future__ import annotations

from typicality.report.formatting import fmt, fmt_coef, fmt_p_clause
from typicality.report.reading import estimate_by_id, is_fitted, number
from typicality.stats.records import FEW_PROMPTS


def interpretation_of(results: dict) -> dict:
    record = results.get("interpretation")
    return record if isinstance(record, dict) else {}


def ci_words(estimate: dict) -> str:
    """'95% CI' or, under FEW_PROMPTS prompts, the words that say the interval is approximate."""
    prompts = number(estimate.get("n_clusters"))
    if prompts is not None and 0 < prompts < FEW_PROMPTS:
        return f"approximate 95% CI (only {round(prompts)} prompts; t with {round(prompts) - 1} df)"
    return "95% CI"


def alpha_subject(results: dict) -> str:
    """How the headline sentence names alpha: a bias estimate controlled for X, or an association."""
    record = interpretation_of(results)
    if record.get("kind") == "bias":
        return f"The typicality-bias estimate alpha, controlled for {record.get('quality_control')},"
    if record.get("kind") == "association":
        return (
            "The association between typicality and preference, alpha (an association, not a bias estimate: "
            "no quality rating is controlled, so better responses may be both preferred and more typical),"
        )
    return "The typicality coefficient alpha"


def validity_section(results: dict) -> dict | None:
    """The report's 'What alpha means' section: sentences and a table of the tie-dropping vs tie-aware fits."""
    record = interpretation_of(results)
    if not record:
        return None
    sentences = [str(record.get("statement") or record.get("label") or "")]
    if record.get("ci_note"):
        sentences.append(f"Small sample: {record['ci_note']}.")
    sensitivity = results.get("sensitivity") if isinstance(results.get("sensitivity"), dict) else {}
    if sensitivity.get("available"):
        sentences.append(f"Sensitivity to unmeasured confounding (E-value, {sensitivity.get('reference')}): {sensitivity.get('meaning')}")
    change = (results.get("headline") or {}).get("alpha_change")
    if isinstance(change, dict) and number(change.get("ci_low")) is not None:
        excludes = not (number(change["ci_low"]) <= 0 <= number(change["ci_high"]))
        sentences.append(
            f"Length: adding the length control changes alpha by {number(change['estimate']):+.3f} (cluster-bootstrap 95% CI "
            f"{fmt_coef(change['ci_low'])} to {fmt_coef(change['ci_high'])}); the interval {'excludes' if excludes else 'includes'} no change. "
            "A logit coefficient can move when a control is added even without confounding, so read a change as a prompt to look."
        )
    ties = results.get("ties") if isinstance(results.get("ties"), dict) else {}
    rows = []
    if ties:
        sentences.append(
            f"Ties: {round(number(ties.get('n_ties')) or 0):,} of {round(number(ties.get('n_pairs')) or 0):,} pairs are tied. "
            "The published fit drops them, which inflates every coefficient by a common factor (about 1.23 at 5 rating levels in simulation); "
            "the ratio alpha / beta of the quality rating cancels that factor, and the Rao-Kupper fit keeps the ties (about 8% low at 5 levels). "
            "The truth lies between the two alphas; the ratio is the number to compare across datasets with different rating scales."
        )
        for pair in ties.get("pairs_of_fits") or []:
            dropping, aware = estimate_by_id(results, pair.get("tie_dropping")), estimate_by_id(results, pair.get("tie_aware"))
            if not (dropping and aware):
                continue
            rows.append(
                {
                    "fit": f"{dropping.get('slice')}, controls: {' + '.join(dropping.get('controls') or []) or 'none'}",
                    "dropping": _fit_text(dropping, short=True),
                    "aware": _fit_text(aware, short=True),
                    "ratio": _ratio_text(dropping.get("ratio")),
                    "ratio_aware": _ratio_text(aware.get("ratio")),
                }
            )
    negative = results.get("negative_control") if isinstance(results.get("negative_control"), dict) else {}
    if negative.get("available"):
        specific, generic = estimate_by_id(results, negative.get("prompt_specific")), estimate_by_id(results, negative.get("unconditional"))
        sentences.append(
            f"Fluency negative control: on the prompt-specific part of typicality, Δ[l(y|x) − l(y)], alpha is {_fit_text(specific)}; "
            f"on the response's fluency alone, Δl(y), {_fit_text(generic)}. {negative.get('meaning', '')}"
        )
    multiplicity = results.get("multiplicity") if isinstance(results.get("multiplicity"), dict) else {}
    if multiplicity:
        sentences.append(
            f"Multiple fits: the headline fit was pre-specified and is tested on its own; the other {len(multiplicity.get('family') or [])} "
            "fitted estimates carry Holm-adjusted p-values (column 'p (Holm)' of the estimates table)."
        )
    agreement = results.get("agreement") if isinstance(results.get("agreement"), dict) else {}
    clustered = agreement.get("clustered") if isinstance(agreement.get("clustered"), dict) else None
    if clustered and number(clustered.get("ci_low")) is not None:
        sentences.append(
            f"Agreement with several pairs per prompt: the prompt-clustered 95% CI is {100 * number(clustered['ci_low']):.1f}% to "
            f"{100 * number(clustered['ci_high']):.1f}% (design effect {fmt(clustered.get('design_effect'), 2)}), wider than the Wilson "
            "interval, which treats pairs of one prompt as independent."
        )
    return {"title": "What alpha means, and how far to trust it", "sentences": [s for s in sentences if s], "ties": rows}


def _fit_text(estimate: dict | None, short: bool = False) -> str:
    if not estimate:
        return "not available"
    if not is_fitted(estimate):
        return f"not available ({estimate.get('reason') or 'not fitted'})"
    if short:  # a table cell: the CI's wording is in the headline
        return f"{fmt_coef(estimate.get('alpha'))} ({fmt_coef(estimate.get('ci_low'))} to {fmt_coef(estimate.get('ci_high'))})"
    return (
        f"{fmt_coef(estimate.get('alpha'))} ({ci_words(estimate)} {fmt_coef(estimate.get('ci_low'))} "
        f"to {fmt_coef(estimate.get('ci_high'))}, p {fmt_p_clause(estimate.get('p_value'))})"
    )


def _ratio_text(ratio) -> str:
    if not isinstance(ratio, dict) or number(ratio.get("estimate")) is None:
        return "–"
    return f"{fmt_coef(ratio['estimate'])} ({fmt_coef(ratio.get('ci_low'))} to {fmt_coef(ratio.get('ci_high'))})"
