"""What the report says, as plain strings: headline, tables, accounting, model card, examples, warnings.

Everything here reads numbers that earlier stages wrote and formats them; nothing is estimated.
A missing or null number becomes "not available" (never NaN), with the reason where one is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from typicality.audit_folder import AuditFolder
from typicality.domain import source_name
from typicality.formatting import (
    clip_end,
    fit_label,
    fmt,
    fmt_coef,
    fmt_count,
    fmt_interval,
    fmt_p,
    fmt_p_clause,
    fmt_percent,
    fmt_signed,
    fmt_slice,
    fmt_value,
    truncation_note,
)
from typicality.report.debiasing_and_influence import debiasing_section, influence_section
from typicality.report.groups import groups_section
from typicality.report.interpretation import alpha_subject, ci_words, validity_section
from typicality.report.published import PUBLISHED_AGREEMENT, PUBLISHED_ALPHAS, SOURCE, SOURCE_URL
from typicality.report.reading import decisive_pairs
from typicality.report.section import Section
from typicality.report.sharpening import sharpening_section
from typicality.report.tokens import token_view_section
from typicality.results import AlphaChange, AuditResults, Estimate, OrdinalFit

SMALL_DATA_PAIRS = 1000  # below this, say plainly that intervals are wide (the paper's fits use 6,874+)
N_EXAMPLES = 3
PROMPT_CHARS = 600
RESPONSE_CHARS = 900


def flatten(record: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dict -> (label, formatted value) rows; `skipped: {empty: 2}` -> ("skipped: empty", "2")."""
    rows = []
    for key, value in record.items():
        label = f"{prefix}{str(key).replace('_', ' ')}"
        if isinstance(value, dict):
            rows.extend(flatten(value, f"{label}: ") if value else [(label, "none")])
        else:
            rows.append((label, fmt_value(value)))
    return rows


def clip_start(text: str, limit: int) -> str:
    """The first `limit` characters (cut at a space where one is near), saying how much was left out."""
    text = text.strip("\r\n")
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", int(limit * 0.8), limit)
    cut = cut if cut > 0 else limit
    return f"{text[:cut].rstrip()} … [{len(text) - cut:,} more characters]"


# --- The pieces of the report ---------------------------------------------------------------


@dataclass
class Example:
    """One pair shown with its texts."""

    delta: str
    prompt: str
    preferred: str
    rejected: str
    preferred_score: str
    rejected_score: str
    prompt_id: str


@dataclass
class Examples:
    agree: list[Example] = field(default_factory=list)
    disagree: list[Example] = field(default_factory=list)
    reason: str | None = None  # why no examples can be shown


def dataset_info(audit: AuditFolder) -> dict[str, str]:
    """Name, subset, split, source, kind and what the label means, from dataset.json or results.json."""
    recorded = audit.results.dataset
    data = audit.data
    info = {}
    for key in ("name", "subset", "split", "source", "kind", "preference"):  # fields of both PreferenceData and DatasetInfo
        value = getattr(data, key) if data is not None else None
        value = value if value not in (None, "") else getattr(recorded, key)
        info[key] = fmt_value(value) if value not in (None, "") else ""
    provenance = data.provenance if data is not None else recorded.provenance
    info["source"] = source_name(provenance, info["source"])
    info["name"] = info["name"] or "an unnamed dataset"
    info["label"] = fmt_value(recorded.title) if recorded.title else ", ".join(part for part in (info["name"], info["subset"], info["split"]) if part)
    return info


def answer(audit: AuditFolder) -> str:
    """The report's first sentence: which way typicality pushes preference, how strongly, and what that number can mean."""
    results = audit.results
    main = results.headline_estimate
    agreement = results.agreement
    counted = (
        f"annotators preferred the response {model_name(audit)} finds more typical in {fmt_percent(agreement.rate)} of "
        f"{fmt_count(agreement.n_pairs)} pairs"
        if agreement.rate is not None
        else ""
    )
    if main is None or not main.fitted or main.ci_low is None or main.ci_high is None:
        return (f"In this data, {counted}; " if counted else "") + "no alpha could be fitted, so the direction of typicality bias is not estimated."
    if main.ci_low > 0:
        direction = "more typical responses are preferred"
    elif main.ci_high < 0:
        direction = "less typical responses are preferred"
    else:
        direction = "no clear preference for more or less typical responses"
    meaning = (
        "a bias estimate, quality held fixed"
        if results.interpretation.is_bias_estimate
        else "an association, not a bias estimate: no quality rating is held fixed"
    )
    return (
        f"{direction[0].upper()}{direction[1:]}: alpha = {fmt_coef(main.alpha)} per nat of Δ typicality "
        f"(95% CI {fmt_interval(main.ci_low, main.ci_high)}, {fmt_count(main.n_pairs)} pairs; {meaning})"
        + (f", and {counted}." if counted else ".")
    )


def model_name(audit: AuditFolder) -> str:
    return audit.results.model_name or "the reference model (not recorded)"


def headline(audit: AuditFolder) -> dict:
    """The quotable sentences, worded from the fits results.json names (headline, its length-controlled twin)."""
    results = audit.results
    model = model_name(audit)
    sentences = []

    agreement = results.agreement
    if agreement.rate is not None:
        sentences.append(
            f"In {fmt_count(agreement.n_pairs)} pairs, the preferred response was the more typical one "
            f"(higher mean per-token log-likelihood under {model}) in {fmt_percent(agreement.rate)} of pairs "
            f"(95% CI {fmt_percent(agreement.ci_low)} to {fmt_percent(agreement.ci_high)}; "
            f"binomial test against 50%: p {fmt_p_clause(agreement.p_value)})."
        )
    else:
        sentences.append(f"The agreement rate is not available{_reason_clause(None)}.")  # results.json's agreement has no reason field

    main = results.headline_estimate
    if main is None:
        sentences.append("No regression estimate is available: results.json names no headline fit.")
    elif not main.fitted:
        sentences.append(f"The headline fit ({fit_label(main)}) could not run{_reason_clause(main.reason)}.")
    else:
        sentences.append(
            f"{alpha_subject(results.interpretation)} is "
            f"{fmt_coef(main.alpha)} (SE {fmt_coef(main.se)}, {ci_words(main, results.interpretation.few_prompts)} "
            f"{fmt_interval(main.ci_low, main.ci_high)}, "
            f"p {fmt_p_clause(main.p_value)}; odds ratio per SD of Δ typicality {fmt(main.odds_ratio_per_sd, 2)}, "
            f"win-probability change from −1 to +1 SD {fmt_signed(main.win_prob_change)}; "
            f"fit {fit_label(main)}, {fmt_count(main.n_pairs)} pairs)."
        )
        if results.headline.reason:
            sentences.append(f"Why this fit is the headline: {results.headline.reason}.")
        sentences.append(_length_sentence(results.length_controlled_estimate, results.headline.alpha_change))
    return {"sentences": sentences, "estimate": main, "reason": results.headline.reason}


def _reason_clause(reason: str | None) -> str:
    return f" ({reason})" if reason else " (results.json records no reason)"


def _length_sentence(controlled: Estimate | None, change: AlphaChange | None) -> str:
    if controlled is None:
        return "No fit with a length control is available for this fit."
    if not controlled.fitted:
        return f"The fit with the length control ({fit_label(controlled)}) could not run{_reason_clause(controlled.reason)}."
    controls = controlled.controls
    sentence = (
        f"With {' + '.join(controls)} as control{'s' if len(controls) > 1 else ''}, alpha is "
        f"{fmt_coef(controlled.alpha)} (SE {fmt_coef(controlled.se)}, 95% CI "
        f"{fmt_interval(controlled.ci_low, controlled.ci_high)}, p {fmt_p_clause(controlled.p_value)})"
    )
    if change is not None:
        sentence += f"; the length control changes alpha by {fmt_signed(change.estimate, 3)}"
    return sentence + "."  # the change's bootstrap CI is worded in the validity section (report/interpretation.py)


def estimate_rows(results: AuditResults) -> list[dict[str, str]]:
    """Every fit, formatted; a fit that could not run says why in `note`."""
    rows = []
    for estimate in results.estimates:
        notes = []
        if not estimate.fitted:
            notes.append(f"could not run{_reason_clause(estimate.reason)}")
        if estimate.robustness:
            notes.append(estimate.robustness)
        bootstrap = estimate.bootstrap  # n_draws, n_failed, se, ci_low, ci_high (None when the draws failed)
        if bootstrap is not None and bootstrap["ci_low"] is not None:
            notes.append(
                f"cluster bootstrap: SE {fmt_coef(bootstrap['se'])}, 95% CI {fmt_interval(bootstrap['ci_low'], bootstrap['ci_high'])} "
                f"({fmt_count(bootstrap['n_draws'])} draws)"
            )
        notes.extend(estimate.warnings)
        rows.append(
            {
                "fitted": estimate.fitted,
                "slice": fmt_slice(estimate.slice),
                "typicality": fmt_value(estimate.typicality),
                "controls": " + ".join(estimate.controls) or "none",
                "alpha": fmt_coef(estimate.alpha),
                "se": fmt_coef(estimate.se),
                "ci": fmt_interval(estimate.ci_low, estimate.ci_high),
                "p_value": fmt_p(estimate.p_value),
                "odds_ratio_per_sd": fmt(estimate.odds_ratio_per_sd, 2),
                "win_prob_change": fmt_signed(estimate.win_prob_change),
                "n_pairs": fmt_count(estimate.n_pairs),
                "n_clusters": fmt_count(estimate.n_clusters),
                "p_holm": fmt_p(estimate.p_holm)
                if estimate.p_holm is not None
                else "pre-specified"
                if estimate.id == results.multiplicity.pre_specified  # the headline, tested on its own
                else "",
                "note": "; ".join(notes),
            }
        )
    return rows


def ordinal_rows(results: AuditResults) -> list[tuple[str, str]]:
    """The ordinal model (rated data): its formula, typicality's coefficient and the LR test, or why it did not run."""
    ordinal = results.ordinal
    if ordinal is None:
        return []
    terms = " + ".join([*ordinal.controls, ordinal.typicality])
    rows = [("model", f"ordinal logit of {ordinal.outcome} on {terms}")]
    if not ordinal.fitted:
        rows.append(("result", f"not available: could not run{_reason_clause(ordinal.reason)}"))
    else:
        rows += [
            ("typicality coefficient", f"{fmt_coef(ordinal.coef)} (SE {fmt_coef(ordinal.se)}, Wald p {fmt_p_clause(ordinal.p_value)})"),
            *_ordinal_within_prompt_rows(ordinal),
            ("likelihood-ratio test", f"LR = {fmt(ordinal.lr_statistic, 2)} on {fmt_count(ordinal.lr_df)} df, p {fmt_p_clause(ordinal.lr_p_value)}"),
            ("responses, rating levels", f"{fmt_count(ordinal.n_responses)}, {fmt_count(ordinal.n_levels)}"),
        ]
    rows += [("warning", warning) for warning in ordinal.warnings]
    return rows


def _ordinal_within_prompt_rows(ordinal: OrdinalFit) -> list[tuple[str, str]]:
    """The ordinal model is fitted within prompt, with a prompt-clustered Wald test beside the LR test."""
    if not ordinal.within_prompt:
        return []
    rows = [("design", "typicality centred within prompt; controls as categories (one indicator per level)")]
    if ordinal.cluster_se is not None:
        rows.append((
            "prompt-clustered Wald test",
            f"SE {fmt_coef(ordinal.cluster_se)}, 95% CI {fmt_interval(ordinal.cluster_ci_low, ordinal.cluster_ci_high)}, "
            f"p {fmt_p_clause(ordinal.cluster_p_value)} ({fmt_count(ordinal.n_prompts)} prompts; the LR test assumes independent responses)",
        ))
    return rows


def settings(results: AuditResults) -> str:
    """The fit settings results.json records (seed, ties, ...), in one line."""
    return "; ".join(f"{label} = {fmt_value(value)}" for label, value in results.settings.items() if value is not None and not isinstance(value, dict))


def accounting(audit: AuditFolder) -> dict:
    """Rows read, drops by reason, loader notes and the counts at each stage."""
    data = audit.data
    counts = []
    if data is not None:
        labels = pd.to_numeric(data.comparisons["label"], errors="coerce")
        counts += [
            ("rows read from the source", fmt_count(data.accounting.rows_read)),
            ("prompts kept", fmt_count(data.n_prompts)),
            ("distinct responses kept", fmt_count(len(data.responses))),
            ("judged pairs kept", fmt_count(len(data.comparisons))),
            ("of which ties", fmt_count((labels == 0.5).sum())),
        ]
    if audit.scores is not None:
        counts.append(("responses with a score", fmt_count(pd.to_numeric(audit.scores.table["mean_logprob"], errors="coerce").notna().sum())))
    if audit.pairs is not None:
        counts.append(("pairs in the regression design", fmt_count(len(audit.pairs))))
    dropped = sorted(data.accounting.dropped.items(), key=lambda item: -item[1]) if data is not None else []
    design_dropped = audit.results.pairs.dropped or {}
    return {
        "available": data is not None,
        "reason": None if data is not None else f"dataset.json: {audit.missing.get('dataset.json', 'not available')}",
        "counts": counts,
        "dropped": [(str(reason), fmt_count(count)) for reason, count in dropped],
        "notes": [str(note) for note in (data.accounting.notes if data is not None else [])],
        # What the stats stage left out when it built the pairs (ties, unscored responses), from results.json.
        "design_dropped": [(str(reason), fmt_count(count)) for reason, count in design_dropped.items()],
    }


CARD_FIRST = ("model", "name", "revision", "fingerprint", "backend", "dtype", "device", "bos", "chat_template")


def model_card(audit: AuditFolder) -> list[tuple[str, str]]:
    """The scorer's card (results.json's `model`) as (label, value) rows, identity first."""
    card = audit.score_card.to_dict() if audit.score_card is not None else {}
    if not card:
        return []
    ordered = {key: card[key] for key in CARD_FIRST if key in card}
    ordered.update({key: value for key, value in card.items() if key not in ordered})
    return flatten(ordered)


def software(results: AuditResults) -> list[tuple[str, str]]:
    return flatten(results.software)


def examples(audit: AuditFolder, k: int = N_EXAMPLES) -> Examples:
    """The k pairs where typicality and the label most agree, and the k where they most disagree."""
    if audit.pairs is None:
        return Examples(reason=f"pairs.parquet is {audit.missing.get('pairs.parquet', 'not available')}")
    if audit.data is None:
        return Examples(reason=f"the texts are not available (dataset.json: {audit.missing.get('dataset.json', 'not available')})")
    decisive = decisive_pairs(audit.pairs.frame)
    responses = audit.data.responses.set_index("response_id")
    scores = {}
    if audit.scores is not None:
        scores = dict(zip(audit.scores.table["response_id"], audit.scores.table["mean_logprob"]))
    known = decisive["preferred_id"].isin(responses.index) & decisive["rejected_id"].isin(responses.index)
    decisive = decisive[known].sort_values("delta_preferred", kind="stable")
    # One pair per prompt, so the examples show k different prompts rather than one prompt k times.
    by_prompt = "prompt_id" if "prompt_id" in decisive.columns else None
    agree = decisive[decisive["delta_preferred"] > 0].iloc[::-1].drop_duplicates(by_prompt).head(k)
    disagree = decisive[decisive["delta_preferred"] < 0].drop_duplicates(by_prompt).head(k)

    def build(row) -> Example:
        preferred, rejected = responses.loc[row["preferred_id"]], responses.loc[row["rejected_id"]]
        return Example(
            delta=fmt_signed(row["delta_preferred"], 3),
            prompt=clip_end(str(preferred["prompt"]), PROMPT_CHARS),
            preferred=clip_start(str(preferred["response"]), RESPONSE_CHARS),
            rejected=clip_start(str(rejected["response"]), RESPONSE_CHARS),
            preferred_score=fmt(scores.get(row["preferred_id"])),
            rejected_score=fmt(scores.get(row["rejected_id"])),
            prompt_id=str(row.get("prompt_id", "")),
        )

    found = Examples(agree=[build(row) for _, row in agree.iterrows()], disagree=[build(row) for _, row in disagree.iterrows()])
    if decisive.empty:
        found.reason = "no decided pair has both texts and a Δ typicality"
    return found


def warnings(audit: AuditFolder, main: Estimate | None) -> list[str]:
    """Everything a reader must know before quoting a number, stated plainly, without repeats."""
    results = audit.results
    found = list(results.warnings)
    stated = list(found)  # the stats stage's own messages
    for estimate in results.estimates:
        reason = estimate.reason or ""
        # The stats stage may already have said so (with the same reason): say it once. Checked against
        # its messages only, so two fits that fail for the same reason are both named.
        if not estimate.fitted and not (reason and any(reason in message for message in stated)):
            found.append(f"The fit {fit_label(estimate)} could not run{_reason_clause(estimate.reason)}.")
    agreement = results.agreement
    if agreement.rate is None:
        found.append(f"The agreement rate is not available{_reason_clause(None)}.")
    if main is not None and main.fitted and main.n_pairs < SMALL_DATA_PAIRS:
        found.append(
            f"Only {fmt_count(main.n_pairs)} pairs entered the headline fit: the intervals are wide and the estimates "
            f"are imprecise (the paper's fits use 6,874 and 28,283 pairs)."
        )
    elif 0 < agreement.n_pairs < SMALL_DATA_PAIRS:
        found.append(
            f"Only {fmt_count(agreement.n_pairs)} pairs: the headline regression could not be fitted, "
            "and the agreement rate's interval is wide."
        )
    # Responses longer than the window: scored on their beginning only.
    card = audit.score_card
    cut = truncation_note(card.response_truncated, card.window) if card is not None else None
    if cut:
        found.append(cut)
    for name, why in audit.missing.items():
        found.append(f"{name} is not available ({why}); the parts of the report that need it say so.")
    return list(dict.fromkeys(found))


def method(audit: AuditFolder) -> dict:
    """The paper's numbers for comparison, and the facts a reader needs to compare fairly."""
    return {
        "source": SOURCE,
        "source_url": SOURCE_URL,
        "published": [
            {
                "base_model": p.base_model,
                "slice": p.slice,
                "alpha": f"{p.alpha:.3f}",
                "se": f"{p.se:.3f}",
                "odds_ratio_per_sd": f"{p.odds_ratio_per_sd:.2f}",
                "win_prob_change": f"{p.win_prob_change:+.2f}",
                "n_pairs": f"{p.n_pairs:,}",
            }
            for p in PUBLISHED_ALPHAS
        ],
        "agreement": [(name, f"{100 * low:.1f}–{100 * high:.1f}%") for name, low, high in PUBLISHED_AGREEMENT],
        "model": model_name(audit),
    }


# The results sections, in report order, between the estimates and the figures: each is a function of the audit folder that
# returns a Section (typicality.report.section), or None when it does not apply. templates/section.md.j2 and section.html.j2
# render any Section, so adding a section is one function and one line here.
SECTIONS: tuple[Callable[[AuditFolder], Section | None], ...] = (
    lambda audit: validity_section(audit.results),  # what alpha means, sensitivity, ties, length change
    lambda audit: groups_section(audit.results),  # with --by: alpha per annotator (or other group), partially pooled
    lambda audit: sharpening_section(audit.results.sharpening),  # gamma = 1 + alpha / beta, worded
    debiasing_section,  # the export, flips, memorized responses
    influence_section,  # the prompts that drive alpha (with influence.json)
)


def sections(audit: AuditFolder) -> list[Section]:
    """The results sections that apply to this audit, in report order."""
    return [section for section in (build(audit) for build in SECTIONS) if section is not None]


def report_context(audit: AuditFolder) -> dict:
    """Everything the templates show: strings, lists of strings and the results sections (Section objects of strings)."""
    info = dataset_info(audit)
    top = headline(audit)
    return {
        "title": f"Typicality audit: {info['label']}",
        "answer": answer(audit),  # the report's first sentence; the figure beside it is render.LEAD_FIGURE
        "dataset": info,
        "headline": top,
        "estimates": estimate_rows(audit.results),
        "ordinal": ordinal_rows(audit.results),
        "settings": settings(audit.results),
        "accounting": accounting(audit),
        "model_card": model_card(audit),
        "examples": examples(audit),
        "method": method(audit),
        "software": software(audit.results),
        "warnings": warnings(audit, top["estimate"]),
        "folder": audit.folder.name if audit.folder is not None else "",
        "sections": sections(audit),  # SECTIONS: each rendered by the one macro per format
        "tokens": token_view_section(audit),  # `typicality explain`: the pairs that move alpha most, token by token
    }
