"""What the report says, as plain strings: headline, tables, accounting, model card, examples, warnings.

Everything here reads numbers that earlier stages wrote and formats them; nothing is estimated.
A missing or null number becomes "not available" (never NaN), with the reason where one is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from typicality.audit_folder import AuditFolder
from typicality.report.debiasing_and_influence import debiasing_section, influence_section
from typicality.report.formatting import (  # noqa: F401  (re-exported: the report's formatters)
    NOT_AVAILABLE,
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
    fmt_value,
)
from typicality.report.interpretation import alpha_subject, ci_words, validity_section
from typicality.report.published import PUBLISHED_AGREEMENT, PUBLISHED_ALPHAS, SOURCE, SOURCE_URL
from typicality.report.reading import controls_of, decisive_pairs, estimates_of, is_fitted, named_estimate, number
from typicality.report.sharpening import sharpening_section
from typicality.stats.records import headline_id

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
    recorded = audit.results.get("dataset")
    recorded = recorded if isinstance(recorded, dict) else {"name": recorded} if recorded else {}
    data = audit.data
    info = {}
    for key in ("name", "subset", "split", "source", "kind", "preference"):
        value = getattr(data, key, None) if data is not None else None
        value = value if value not in (None, "") else recorded.get(key)
        info[key] = fmt_value(value) if value not in (None, "") else ""
    info["name"] = info["name"] or "an unnamed dataset"
    info["label"] = (
        fmt_value(recorded.get("title")) if recorded.get("title") else ", ".join(part for part in (info["name"], info["subset"], info["split"]) if part)
    )
    return info


def model_name(audit: AuditFolder) -> str:
    card = audit.score_card or {}
    for key in ("model", "name", "fingerprint"):
        if card.get(key):
            return str(card[key])
    return "the reference model (not recorded)"


def headline(audit: AuditFolder) -> dict:
    """The quotable sentences, worded from the fits results.json names (headline, its length-controlled twin)."""
    results = audit.results
    model = model_name(audit)
    sentences = []

    agreement = results.get("agreement") if isinstance(results.get("agreement"), dict) else {}
    if number(agreement.get("rate")) is not None:
        sentences.append(
            f"In {fmt_count(agreement.get('n_pairs'))} pairs, the preferred response was the more typical one "
            f"(higher mean per-token log-likelihood under {model}) in {fmt_percent(agreement.get('rate'))} of pairs "
            f"(95% CI {fmt_percent(agreement.get('ci_low'))} to {fmt_percent(agreement.get('ci_high'))}; "
            f"binomial test against 50%: p {fmt_p_clause(agreement.get('p_value'))})."
        )
    else:
        sentences.append(f"The agreement rate is not available{_reason_clause(agreement)}.")

    main = named_estimate(results, "estimate")
    if main is None:
        sentences.append("No regression estimate is available: results.json names no headline fit.")
    elif not is_fitted(main):
        sentences.append(f"The headline fit ({fit_label(main)}) could not run{_reason_clause(main)}.")
    else:
        sentences.append(
            f"{alpha_subject(results)} is "
            f"{fmt_coef(main.get('alpha'))} (SE {fmt_coef(main.get('se'))}, {ci_words(main)} {fmt_interval(main.get('ci_low'), main.get('ci_high'))}, "
            f"p {fmt_p_clause(main.get('p_value'))}; odds ratio per SD of Δ typicality {fmt(main.get('odds_ratio_per_sd'), 2)}, "
            f"win-probability change from −1 to +1 SD {fmt_signed(main.get('win_prob_change'))}; "
            f"fit {fit_label(main)}, {fmt_count(main.get('n_pairs'))} pairs)."
        )
        reason = (results.get("headline") or {}).get("reason")
        if reason:
            sentences.append(f"Why this fit is the headline: {reason}.")
        sentences.append(_length_sentence(named_estimate(results, "length_controlled"), (results.get("headline") or {}).get("alpha_change")))
    return {"sentences": sentences, "estimate": main, "reason": (results.get("headline") or {}).get("reason")}


def _reason_clause(record: dict) -> str:
    reason = record.get("reason") if isinstance(record, dict) else None
    return f" ({reason})" if reason else " (results.json records no reason)"


def _length_sentence(controlled: dict | None, change: dict | None) -> str:
    if controlled is None:
        return "No fit with a length control is available for this fit."
    if not is_fitted(controlled):
        return f"The fit with the length control ({fit_label(controlled)}) could not run{_reason_clause(controlled)}."
    controls = controls_of(controlled)
    sentence = (
        f"With {' + '.join(controls)} as control{'s' if len(controls) > 1 else ''}, alpha is "
        f"{fmt_coef(controlled.get('alpha'))} (SE {fmt_coef(controlled.get('se'))}, 95% CI "
        f"{fmt_interval(controlled.get('ci_low'), controlled.get('ci_high'))}, p {fmt_p_clause(controlled.get('p_value'))})"
    )
    if isinstance(change, dict) and number(change.get("estimate")) is not None:
        sentence += f"; the length control changes alpha by {fmt_signed(change.get('estimate'), 3)}"
    return sentence + "."  # the change's bootstrap CI is worded in the validity section (report/interpretation.py)


def estimate_rows(results: dict) -> list[dict[str, str]]:
    """Every fit, formatted; a fit that could not run says why in `note`."""
    rows = []
    for estimate in estimates_of(results):
        notes = []
        if not is_fitted(estimate):
            notes.append(f"could not run{_reason_clause(estimate)}")
        if estimate.get("robustness"):
            notes.append(str(estimate["robustness"]))
        bootstrap = estimate.get("bootstrap")
        if isinstance(bootstrap, dict) and number(bootstrap.get("ci_low")) is not None:
            notes.append(
                f"cluster bootstrap: SE {fmt_coef(bootstrap.get('se'))}, 95% CI {fmt_interval(bootstrap.get('ci_low'), bootstrap.get('ci_high'))} "
                f"({fmt_count(bootstrap.get('n_draws'))} draws)"
            )
        warnings = estimate.get("warnings")
        notes.extend([warnings] if isinstance(warnings, str) else [str(w) for w in warnings or []])
        rows.append(
            {
                "fitted": is_fitted(estimate),
                "slice": fmt_value(estimate.get("slice") or "all"),
                "typicality": fmt_value(estimate.get("typicality") or "mean_logprob"),
                "controls": " + ".join(controls_of(estimate)) or "none",
                "alpha": fmt_coef(estimate.get("alpha")),
                "se": fmt_coef(estimate.get("se")),
                "ci": fmt_interval(estimate.get("ci_low"), estimate.get("ci_high")),
                "p_value": fmt_p(estimate.get("p_value")),
                "odds_ratio_per_sd": fmt(estimate.get("odds_ratio_per_sd"), 2),
                "win_prob_change": fmt_signed(estimate.get("win_prob_change")),
                "n_pairs": fmt_count(estimate.get("n_pairs")),
                "n_clusters": fmt_count(estimate.get("n_clusters")),
                "p_holm": fmt_p(estimate.get("p_holm"))
                if estimate.get("p_holm") is not None
                else "pre-specified"
                if estimate.get("id") == headline_id(results)
                else "",
                "note": "; ".join(notes),
            }
        )
    return rows


def ordinal_rows(results: dict) -> list[tuple[str, str]]:
    """The ordinal model (rated data): its formula, typicality's coefficient and the LR test, or why it did not run."""
    ordinal = results.get("ordinal")
    if not isinstance(ordinal, dict) or not ordinal:
        return []
    if "outcome" not in ordinal:  # a shape this report does not know: show what is there
        return flatten(ordinal)
    controls = ordinal.get("controls") or []
    terms = " + ".join([*map(str, controls), str(ordinal.get("typicality") or "mean_logprob")])
    rows = [("model", f"ordinal logit of {ordinal['outcome']} on {terms}")]
    if ordinal.get("fitted") is False or number(ordinal.get("coef")) is None:
        rows.append(("result", f"not available: could not run{_reason_clause(ordinal)}"))
    else:
        rows += [
            ("typicality coefficient", f"{fmt_coef(ordinal.get('coef'))} (SE {fmt_coef(ordinal.get('se'))}, Wald p {fmt_p_clause(ordinal.get('p_value'))})"),
            *_ordinal_within_prompt_rows(ordinal),
            (
                "likelihood-ratio test",
                f"LR = {fmt(ordinal.get('lr_statistic'), 2)} on {fmt_count(ordinal.get('lr_df'))} df, p {fmt_p_clause(ordinal.get('lr_p_value'))}",
            ),
            ("responses, rating levels", f"{fmt_count(ordinal.get('n_responses'))}, {fmt_count(ordinal.get('n_levels'))}"),
        ]
    rows += [("warning", str(warning)) for warning in ordinal.get("warnings") or []]
    return rows


def _ordinal_within_prompt_rows(ordinal: dict) -> list[tuple[str, str]]:
    """The ordinal model is fitted within prompt, with a prompt-clustered Wald test beside the LR test."""
    if not ordinal.get("within_prompt"):
        return []
    rows = [("design", "typicality centred within prompt; controls as categories (one indicator per level)")]
    if number(ordinal.get("cluster_se")) is not None:
        rows.append((
            "prompt-clustered Wald test",
            f"SE {fmt_coef(ordinal.get('cluster_se'))}, 95% CI {fmt_interval(ordinal.get('cluster_ci_low'), ordinal.get('cluster_ci_high'))}, "
            f"p {fmt_p_clause(ordinal.get('cluster_p_value'))} ({fmt_count(ordinal.get('n_prompts'))} prompts; the LR test assumes independent responses)",
        ))
    return rows


def settings(results: dict) -> str:
    """The fit settings results.json records (seed, ties, ...), in one line."""
    recorded = results.get("settings")
    if not isinstance(recorded, dict):
        return ""
    return "; ".join(f"{label} = {fmt_value(value)}" for label, value in recorded.items() if value is not None and not isinstance(value, dict))


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
    design = audit.results.get("pairs") if isinstance(audit.results.get("pairs"), dict) else {}
    design_dropped = design.get("dropped") if isinstance(design.get("dropped"), dict) else {}
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
    card = audit.score_card
    if not card:
        return []
    ordered = {key: card[key] for key in CARD_FIRST if key in card}
    ordered.update({key: value for key, value in card.items() if key not in ordered})
    return flatten(ordered)


def software(results: dict) -> list[tuple[str, str]]:
    recorded = results.get("software")
    return flatten(recorded) if isinstance(recorded, dict) else []


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


def warnings(audit: AuditFolder, main: dict | None) -> list[str]:
    """Everything a reader must know before quoting a number, stated plainly, without repeats."""
    results = audit.results
    found = []
    recorded = results.get("warnings")
    found.extend([recorded] if isinstance(recorded, str) else [str(w) for w in recorded or []] if isinstance(recorded, list) else [])
    stated = list(found)  # the stats stage's own messages
    for estimate in estimates_of(results):
        reason = str(estimate.get("reason") or "")
        # The stats stage may already have said so (with the same reason): say it once. Checked against
        # its messages only, so two fits that fail for the same reason are both named.
        if not is_fitted(estimate) and not (reason and any(reason in message for message in stated)):
            found.append(f"The fit {fit_label(estimate)} could not run{_reason_clause(estimate)}.")
    agreement = results.get("agreement")
    if not isinstance(agreement, dict) or number(agreement.get("rate")) is None:
        found.append(f"The agreement rate is not available{_reason_clause(agreement if isinstance(agreement, dict) else {})}.")
    n_pairs = number(main.get("n_pairs")) if main else None
    if main is not None and is_fitted(main) and n_pairs is not None and n_pairs < SMALL_DATA_PAIRS:
        found.append(
            f"Only {fmt_count(n_pairs)} pairs entered the headline fit: the intervals are wide and the estimates "
            f"are imprecise (the paper's fits use 6,874 and 28,283 pairs)."
        )
    elif isinstance(agreement, dict) and (number(agreement.get("n_pairs")) or SMALL_DATA_PAIRS) < SMALL_DATA_PAIRS:
        found.append(
            f"Only {fmt_count(agreement.get('n_pairs'))} pairs: the headline regression could not be fitted, "
            "and the agreement rate's interval is wide."
        )
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


def report_context(audit: AuditFolder) -> dict:
    """Everything the templates show, as strings and lists of strings."""
    info = dataset_info(audit)
    top = headline(audit)
    return {
        "title": f"Typicality audit: {info['label']}",
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
        "debiasing": debiasing_section(audit),  # the export, flips, memorized responses
        "influence": influence_section(audit),  # the prompts that drive alpha
        "sharpening": sharpening_section(audit.results),  # gamma = 1 + alpha / beta, worded
        "validity": validity_section(audit.results),  # what alpha means, sensitivity, ties, length change
    }
