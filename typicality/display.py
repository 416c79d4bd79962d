"""How the objects a user holds show themselves in Jupyter and at a prompt: one compact card each.

A card is a title, the answer in a sentence or two, a small table, a line of counts, notes and
warnings. `card_html` renders it for Jupyter's `_repr_html_` (every text through `html.escape`:
dataset names, loader notes and response texts are hostile until proven otherwise), `card_text`
for `__repr__` / IPython's `_repr_pretty_`: a few lines that fit a terminal, control characters
shown as escapes, never a dataclass wall.

The objects (`PreferenceData`, `ScoreResult`, `Estimate`, `AuditResults`, `InfluenceSummary`,
`PowerPlan`, `ComparisonResults`) mix in `Displayed` and build their card with the builders
below. This module sits under the domain types and the typed results (see the import layers in
pyproject.toml), so it reads their attributes without importing them; it only words numbers
(typicality.formatting), it computes nothing, and it never touches what is serialized.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass, field

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
    fmt_value,
    number,
)
from typicality.safe_text import printable

TEXT_WIDTH = 100  # a terminal line
TEXT_TABLE_ROWS = 8  # table rows shown in the text form before "... N more"
HTML_TABLE_ROWS = 12
SAMPLE_CHARS = 120  # a dataset text shown in a card: its end (prompt) or its start (response)


@dataclass
class Card:
    """What an object shows: every field plain text (escaped where rendered)."""

    title: str
    sentences: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # the table's columns; no table when empty
    rows: list[list[str]] = field(default_factory=list)
    counts: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str = ""  # the object's type, shown small in the HTML


class Displayed:
    """Mixin: `_repr_html_`, `_repr_pretty_` and `__repr__` from the object's `_card()`."""

    def _card(self) -> Card:  # pragma: no cover - every user defines it
        raise NotImplementedError

    def _repr_html_(self) -> str | None:
        try:
            return card_html(self._card())
        except Exception:  # an object too broken for its card: Jupyter shows the text form instead
            return None

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(f"{type(self).__name__}(...)" if cycle else repr(self))

    def __repr__(self) -> str:
        try:
            return card_text(self._card())
        except Exception as error:  # a repr must never raise: a half-built object still says what it is
            return f"<{type(self).__name__}: no card ({type(error).__name__}: {error})>"


# ---------------------------------------------------------------------------------------------
# Rendering

STYLE = (
    "font-family:-apple-system,'Segoe UI',Roboto,Arial,sans-serif;font-size:13px;line-height:1.45;color:#1f2328;"
    "border:1px solid #d0d7de;border-left:4px solid #4C72B0;border-radius:4px;padding:.5em .9em;max-width:62em;background:#fff"
)
CELL = "border:1px solid #d0d7de;padding:.15em .45em;text-align:left;vertical-align:top"


def _numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace("%", "").replace("< ", "").strip()
    return number(stripped) is not None


def card_html(card: Card) -> str:
    """The card as one self-contained HTML fragment (inline styles, no script); every text escaped."""
    e = html.escape
    parts = [f'<div class="typicality-card" style="{STYLE}">']
    kind = f' <span style="color:#57606a;font-weight:normal;font-size:11px">{e(card.kind)}</span>' if card.kind else ""
    parts.append(f'<div style="font-weight:600;font-size:14px;margin-bottom:.3em">{e(card.title)}{kind}</div>')
    parts.extend(f'<p style="margin:.25em 0">{e(sentence)}</p>' for sentence in card.sentences)
    if card.header:
        parts.append('<table style="border-collapse:collapse;margin:.4em 0;font-size:12px"><thead><tr>')
        parts.extend(f'<th style="{CELL};background:#f6f8fa">{e(column)}</th>' for column in card.header)
        parts.append("</tr></thead><tbody>")
        for row in card.rows[:HTML_TABLE_ROWS]:
            cells = (
                f'<td style="{CELL}{";text-align:right;white-space:nowrap" if _numeric(value) else ""}">{e(value)}</td>' for value in row
            )
            parts.append("<tr>" + "".join(cells) + "</tr>")
        if len(card.rows) > HTML_TABLE_ROWS:
            parts.append(f'<tr><td colspan="{len(card.header)}" style="{CELL};color:#57606a">… {len(card.rows) - HTML_TABLE_ROWS:,} more rows</td></tr>')
        parts.append("</tbody></table>")
    if card.counts:
        counts = " · ".join(f"{e(label)} <b>{e(value)}</b>" for label, value in card.counts)
        parts.append(f'<div style="color:#3d444d;margin:.3em 0">{counts}</div>')
    if card.notes:
        parts.append('<ul style="margin:.2em 0;padding-left:1.2em;color:#3d444d">')
        parts.extend(f"<li>{e(note)}</li>" for note in card.notes)
        parts.append("</ul>")
    if card.warnings:
        parts.append('<ul class="warnings" style="margin:.3em 0;padding:.3em .3em .3em 1.5em;background:#fff8e6;border-left:3px solid #d4a72c">')
        parts.extend(f"<li>{e(warning)}</li>" for warning in card.warnings)
        parts.append("</ul>")
    parts.append("</div>")
    return "".join(parts)


def plain(text: str) -> str:
    """One line for a terminal: whitespace runs become one space, other control characters show as escapes."""
    return printable(" ".join(str(text).split()))  # the one rule for data on a terminal (typicality/safe_text.py)


def card_text(card: Card, width: int = TEXT_WIDTH) -> str:
    """The card in a few terminal lines: title, wrapped sentences, an aligned table, counts, notes, warnings."""
    lines = [plain(card.title) + (f"  [{plain(card.kind)}]" if card.kind else "")]
    for sentence in card.sentences:
        lines.extend(textwrap.wrap(plain(sentence), width, initial_indent="  ", subsequent_indent="  "))
    if card.header:
        rows = [[plain(value) for value in row] for row in card.rows[:TEXT_TABLE_ROWS]]
        header = [plain(column) for column in card.header]
        widths = [min(40, max(len(row[i]) for row in [header, *rows])) for i in range(len(header))]
        while sum(widths) + 2 * len(widths) > width and max(widths) > 8:  # narrow the widest column until the table fits
            widths[widths.index(max(widths))] -= 1

        def line(values: list[str]) -> str:
            cells = [(value if len(value) <= w else value[: w - 1] + "…") for value, w in zip(values, widths)]
            return "  " + "  ".join(cell.rjust(w) if _numeric(cell) else cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

        lines.append(line(header))
        lines.extend(line(row) for row in rows)
        if len(card.rows) > TEXT_TABLE_ROWS:
            lines.append(f"  … {len(card.rows) - TEXT_TABLE_ROWS:,} more rows")
    if card.counts:
        lines.extend(textwrap.wrap(" · ".join(f"{plain(label)} {plain(value)}" for label, value in card.counts), width, initial_indent="  ",
                                   subsequent_indent="  "))
    for prefix, items in (("note", card.notes), ("warning", card.warnings)):
        lines.extend("  " + textwrap.shorten(f"{prefix}: {plain(item)}", width - 2, placeholder=" …") for item in items)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The cards of the objects a user holds


def _clip_start(text: str, limit: int = SAMPLE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def preference_data_card(data) -> Card:
    """`PreferenceData`: what was judged, by whom it was read, a few pairs' texts (escaped), what was dropped."""
    comparisons, responses = data.comparisons, data.responses
    n_ties = int((comparisons["label"] == 0.5).sum()) if "label" in comparisons.columns else 0
    kind = "pairs derived from ratings" if data.kind == "rated" else "judged pairs"
    sentences = [
        f"{fmt_count(len(comparisons))} {kind} ({fmt_count(n_ties)} ties) over {fmt_count(data.n_prompts)} prompts "
        f"and {fmt_count(len(responses))} distinct responses."
    ]
    if data.preference:
        sentences.append(f"A label of 1 means the first response is preferred: {data.preference}.")
    texts = responses.set_index("response_id") if "response_id" in responses.columns else None
    rows = []
    if texts is not None and not texts.index.has_duplicates:
        for _, pair in comparisons.head(3).iterrows():
            if pair["response_a"] in texts.index and pair["response_b"] in texts.index:
                a, b = texts.loc[pair["response_a"]], texts.loc[pair["response_b"]]
                rows.append([clip_end(" ".join(str(a["prompt"]).split()), 80), _clip_start(a["response"], 80), _clip_start(b["response"], 80),
                             fmt_value(pair["label"])])
    counts = [("rows read", fmt_count(data.accounting.rows_read)), ("kind", data.kind)]
    if data.rating_columns:
        counts.append(("ratings", ", ".join(data.rating_columns)))
    if data.correctness:
        counts.append(("quality rating", data.correctness))
    dropped = sorted(data.accounting.dropped.items(), key=lambda item: -item[1])
    notes = [f"dropped {fmt_count(count)}: {reason}" for reason, count in dropped] + list(data.accounting.notes)
    return Card(title=data.title, sentences=sentences, header=["prompt (end)", "response a", "response b", "label"] if rows else [],
                rows=rows, counts=counts, notes=notes, kind="PreferenceData")


def score_result_card(scores) -> Card:
    """`ScoreResult`: the model, how many responses were scored, the spread of typicality, what was skipped."""
    table, card = scores.table, scores.card
    scored = scores.scored
    model = (card.display_name if card is not None else None) or "unknown model"
    sentences = [f"{fmt_count(len(scored))} of {fmt_count(len(table))} responses scored under {model}."]
    if scores.fingerprint:
        sentences.append(f"Fingerprint: {scores.fingerprint}")
    header, rows = [], []
    if len(scored):
        header = ["", "min", "25%", "median", "75%", "max"]
        for column, digits in (("mean_logprob", 3), ("sum_logprob", 1), ("n_tokens", 0)):
            if column in scored.columns:
                q = scored[column].astype(float).quantile([0, 0.25, 0.5, 0.75, 1.0]).tolist()
                rows.append([column, *(fmt(value, digits) if digits else fmt_count(value) for value in q)])
    counts = []
    for key, label in (("n_from_cache", "from cache"), ("n_computed", "computed"), ("elapsed_s", "seconds")):
        if card is not None and getattr(card, key) is not None:
            counts.append((label, fmt_value(getattr(card, key))))
    warnings = []
    for column, what in (("truncated", "responses cut to fit the window"), ("prompt_truncated", "prompts cut from the left"),
                         ("boundary_merged", "responses whose first token spans the prompt join")):
        if column in scored.columns and int(scored[column].sum()):
            warnings.append(f"{fmt_count(int(scored[column].sum()))} {what}.")
    if "skipped" in table.columns:
        for reason, count in table["skipped"].dropna().value_counts().items():
            warnings.append(f"{fmt_count(count)} not scored: {reason}.")
    return Card(title=f"Scores: {model}", sentences=sentences, header=header, rows=rows, counts=counts, warnings=warnings, kind="ScoreResult")


def estimate_sentence(estimate) -> str:
    """One fit in one sentence: alpha, its CI and p, the odds ratio per SD; or why it did not run."""
    if not estimate.fitted:
        return f"Not fitted: {estimate.reason or 'no reason recorded'}."
    return (
        f"alpha = {fmt_coef(estimate.alpha)} (SE {fmt_coef(estimate.se)}, 95% CI {fmt_interval(estimate.ci_low, estimate.ci_high)}, "
        f"p {fmt_p_clause(estimate.p_value)}); odds ratio per SD of Δ typicality {fmt(estimate.odds_ratio_per_sd, 2)}, "
        f"win probability from −1 to +1 SD {fmt_signed(estimate.win_prob_change)}."
    )


ESTIMATE_HEADER = ["slice", "typicality", "controls", "alpha", "SE", "95% CI", "p", "pairs"]


def estimate_row(estimate) -> list[str]:
    if not estimate.fitted:
        return [estimate.slice, estimate.typicality, " + ".join(estimate.controls) or "none", "not fitted", "", "", "", fmt_count(estimate.n_pairs)]
    return [
        estimate.slice,
        estimate.typicality,
        " + ".join(estimate.controls) or "none",
        fmt_coef(estimate.alpha),
        fmt_coef(estimate.se),
        fmt_interval(estimate.ci_low, estimate.ci_high),
        fmt_p(estimate.p_value),
        fmt_count(estimate.n_pairs),
    ]


def estimate_card(estimate) -> Card:
    """`Estimate`: the fit's sentence, its controls' coefficients, its counts and warnings."""
    rows = [[name, fmt_coef(c.get("coef")), fmt_coef(c.get("se")), fmt_p(c.get("p_value"))] for name, c in (estimate.coefficients or {}).items()]
    counts = [("pairs", fmt_count(estimate.n_pairs)), ("prompts", fmt_count(estimate.n_clusters)), ("estimator", estimate.estimator)]
    if estimate.p_holm is not None:
        counts.append(("p (Holm)", fmt_p(estimate.p_holm)))
    return Card(title=fit_label(estimate), sentences=[estimate_sentence(estimate)], header=["control", "coefficient", "SE", "p"] if rows else [],
                rows=rows, counts=counts, warnings=list(estimate.warnings), kind="Estimate")


def audit_results_card(results) -> Card:
    """`AuditResults`: the headline in a sentence, the agreement rate, every fit in a small table, counts, warnings."""
    dataset = results.dataset
    main = results.headline_estimate
    sentences = []
    if main is None:
        sentences.append("No headline fit: results.json names none.")
    else:
        meaning = results.interpretation.label if results.interpretation is not None else ""
        sentences.append(f"Headline ({fit_label(main)}; {meaning}): {estimate_sentence(main)}")
    agreement = results.agreement
    if number(agreement.rate) is not None:
        sentences.append(
            f"The preferred response is the more typical one in {fmt_percent(agreement.rate)} of {fmt_count(agreement.n_pairs)} pairs "
            f"(95% CI {fmt_percent(agreement.ci_low)} to {fmt_percent(agreement.ci_high)}; p {fmt_p_clause(agreement.p_value)} against 50%)."
        )
    model = results.model_name or "not recorded"  # the score card's display_name
    pairs = results.pairs
    counts = [
        ("pairs", fmt_count(pairs.pairs if pairs is not None else None)),
        ("comparisons", fmt_count(pairs.comparisons if pairs is not None else None)),
        ("prompts", fmt_count(dataset.n_prompts)),
        ("responses", fmt_count(dataset.n_responses)),
        ("model", str(model)),
    ]
    return Card(title=f"Typicality audit: {dataset.title or dataset.name}", sentences=sentences, header=ESTIMATE_HEADER,
                rows=[estimate_row(estimate) for estimate in _headline_first(results)], counts=counts, warnings=list(results.warnings), kind="AuditResults")


def _headline_first(results) -> list:
    """The estimates with the headline and its length-controlled twin first, then the fitted ones: a card shows the first few."""
    first = [results.headline.estimate, results.headline.length_controlled]
    return sorted(results.estimates, key=lambda e: (e.id not in first, first.index(e.id) if e.id in first else 0, not e.fitted))


def influence_card(summary) -> Card:
    """`InfluenceSummary`: how much the largest pair and prompt move alpha, CV3 beside the sandwich SE, alpha without the top prompts."""
    if not summary.available:
        return Card(title="Influence on alpha", sentences=[f"Not computed: {summary.reason or 'no reason recorded'}."], kind="InfluenceSummary")
    cv3 = summary.cv3 or {}
    sentences = [
        f"alpha = {fmt_coef(summary.alpha)} ({summary.estimate}); CV3 jackknife SE {fmt_coef(cv3.get('se'))} beside the sandwich's "
        f"{fmt_coef(summary.cv1_se)}; leaving out one pair moves alpha by at most {fmt_coef(summary.largest_pair_change)}, "
        f"one prompt by at most {fmt_coef(summary.largest_prompt_change)}."
    ]
    top = summary.without_top_prompts or {}
    if top:
        removed = fmt_count(top.get("n_prompts_removed"))
        if top.get("fitted"):
            sentences.append(f"Without the {removed} most influential prompt(s), alpha is {fmt_coef(top.get('alpha'))} "
                             f"(95% CI {fmt_interval(top.get('ci_low'), top.get('ci_high'))}).")
        else:
            sentences.append(f"Without the {removed} most influential prompt(s), alpha could not be fitted: {top.get('reason')}.")
    quantiles = summary.leave_one_prompt_out or {}
    header, rows = [], []
    if quantiles:
        header = ["leave one prompt out", *(_quantile_name(key) for key in quantiles)]
        rows = [["alpha", *(fmt_coef(value) for value in quantiles.values())]]
    counts = [("pairs", fmt_count(summary.n_pairs)), ("prompts", fmt_count(summary.n_prompts)), ("prompt deletions", str(summary.prompt_method))]
    warnings = []
    if summary.n_prompts_not_converged:
        warnings.append(f"{fmt_count(summary.n_prompts_not_converged)} leave-one-prompt-out refits did not converge.")
    return Card(title="Influence on alpha", sentences=sentences, header=header, rows=rows, counts=counts, warnings=warnings, kind="InfluenceSummary")


def _quantile_name(key: str) -> str:
    """influence.json's quantile keys: "q00" -> "min", "q05" -> "5%", "q100" -> "max"."""
    share = int(key.lstrip("q") or 0)
    return "min" if share == 0 else "max" if share == 100 else f"{share}%"


def power_plan_card(plan) -> Card:
    """`PowerPlan`: the answer's sentence, power at other numbers of pairs, the assumptions."""
    rows = [[fmt_count(row["pairs"]), fmt_count(row["prompts"]), fmt_percent(row["power"], 0)] for row in plan.table]
    counts = [
        ("alpha", fmt_coef(plan.alpha)),
        ("SD of Δℓ", fmt(plan.sd_delta)),
        ("design effect", fmt(plan.design_effect, 2)),
        ("effective pairs", fmt_count(plan.effective_pairs)),
        ("significance", fmt_value(plan.significance)),
    ]
    source = plan.source or {}
    notes = [f"assumptions from {source.get('folder') or source.get('kind')}"] if source else []
    return Card(title="Power plan", sentences=[plan.sentence()], header=["pairs", "prompts", "power"], rows=rows, counts=counts,
                notes=notes + list(plan.notes), kind="PowerPlan")


def comparison_card(content: dict) -> Card:
    """`ComparisonResults` (comparison.json's content): each audit's alpha, and the pooled effect or the models' differences."""
    audits = content.get("audits", [])
    kind = content.get("kind", "")
    rows = []
    for item in audits:
        estimate = item.get("estimate") or {}
        rows.append([str(item.get("label")), str((item.get("dataset") or {}).get("title") or ""), str((item.get("model") or {}).get("name") or ""),
                     fmt_coef(estimate.get("alpha")), fmt_interval(estimate.get("ci_low"), estimate.get("ci_high")), fmt_p(estimate.get("p_value")),
                     fmt_count(estimate.get("n_pairs"))])
    sentences = []
    if kind == "datasets" and content.get("datasets"):
        pooled = (content["datasets"].get("pooled") or {}).get("random") or {}
        if pooled:
            sentences.append(f"Pooled log odds ratio per SD of Δℓ (random effects): {fmt_coef(pooled.get('effect'))} "
                             f"(95% CI {fmt_interval(pooled.get('ci_low'), pooled.get('ci_high'))}, p {fmt_p_clause(pooled.get('p_value'))}).")
        for row in content["datasets"].get("differences", []):
            first, second = row["datasets"]
            sentences.append(f"{second} minus {first}: {fmt_signed(row['difference'], 3)} per SD (95% CI {fmt_interval(row['ci_low'], row['ci_high'])}, "
                             f"Holm p {fmt_p_clause(row.get('p_holm'))}).")
    elif kind == "models" and content.get("models"):
        for row in (content["models"].get("joint_fit") or {}).get("differences", []):
            first, second = row["models"]
            sentences.append(f"alpha under {second} minus under {first}: {fmt_signed(row['difference'], 4)} (95% CI "
                             f"{fmt_interval(row['ci_low'], row['ci_high'])}, p {fmt_p_clause(row['p_value'])}), on the same pairs.")
        for row in content["models"].get("correlations", []):
            first, second = row["models"]
            sentences.append(f"Typicality under {first} and {second}: Pearson {fmt(row['response_pearson'], 4)} over "
                             f"{fmt_count(row['n_responses'])} responses.")
    return Card(title=f"Comparison of {len(audits)} audits ({kind})", sentences=sentences,
                header=["audit", "dataset", "model", "alpha", "95% CI", "p", "pairs"], rows=rows,
                counts=[("effect", str(content.get("effect", "headline")))], warnings=list(content.get("warnings", [])), kind="ComparisonResults")
