"""The report's "acting on this audit" sections: words for results.json's `debiasing` and `memorized` and for influence.json
(computed in typicality.stats.debias, .memorization and .influence), the most influential prompts from
influence.parquet, and the leave-one-prompt-out figure. Nothing here is estimated.
"""

from __future__ import annotations

from typicality.audit_folder import AuditFolder
from typicality.formatting import clip_end, fmt, fmt_coef, fmt_count, fmt_interval, fmt_p, fmt_percent, fmt_signed, number
from typicality.report.section import Column, Section, Table

DEBIASING_TITLE = "Acting on this audit: a debiased training set"
INFLUENCE_TITLE = "The prompts that drive alpha"
N_TOP_PROMPTS = 5
EXCERPT_CHARS = 160
ROBUSTNESS_COLUMNS = (Column("standard error of the headline alpha"), Column("SE", number=True), Column("95% CI", interval=True), Column("p", number=True))
PROMPT_COLUMNS = (
    Column("rank", number=True),
    Column("alpha without it", number=True),
    Column("change", number=True),
    Column("pairs", number=True),
    Column("prompt"),
)
PROMPTS_INTRO = "The most influential prompts (their end, where the response starts):"


def debiasing_section(audit: AuditFolder) -> Section:
    """Sentences for results.json's debiasing and memorized-response entries."""

    results = audit.results
    debiasing, memorized = results.debiasing, results.memorized
    sentences = []
    if debiasing.available:
        controls = ", ".join(debiasing.controls) or "none"
        sentences.append(
            "The export (typicality export AUDIT --out DIR) removes alpha = "
            f"{fmt_coef(debiasing.alpha)} ({debiasing.reason}) from every pair as a Bradley–Terry "
            f"margin for reward-model training, with reweighing weights and the fitted win probability with and without the typicality term "
            f"(controls refitted with alpha fixed: {controls})."
        )
        decisive, undetermined = debiasing.n_decisive, debiasing.n_undetermined
        if decisive and undetermined == decisive:
            sentences.append(
                "This fit has no control that tells two responses apart, so without typicality the model favours neither response of any pair: "
                "no pair flips, and the export's margin and weights carry the whole correction."
            )
        else:
            sentences.append(
                f"Removing typicality changes which response the model favours in {fmt_count(debiasing.n_flips)} of {fmt_count(decisive)} decided pairs "
                f"({fmt_percent(debiasing.share_flips)})."
            )
        weights = debiasing.weights  # mean, min, max, effective_n (None when no pair could be weighted)
        if weights["mean"] is not None:
            sentences.append(
                f"Reweighing weights (Kamiran & Calders 2012) run from {fmt(weights['min'])} to {fmt(weights['max'])} (mean {fmt(weights['mean'])}); "
                f"the weighted data is worth {fmt_count(weights['effective_n'])} equally weighted pairs."
            )
    else:
        sentences.append(f"No debiased export is possible: {debiasing.reason}")
    # Over the scored responses when results.json counts them, else over the responses in pairs.
    scored = memorized.n_scored_responses if memorized.n_scored_responses is not None else memorized.n_responses_in_pairs
    count = memorized.n_memorized_responses if memorized.n_memorized_responses is not None else memorized.n_memorized_in_pairs
    share = count / scored if scored else None
    sentence = (
        f"{fmt_count(count)} of {fmt_count(scored)} scored responses ({fmt_percent(share)}) have a mean token probability of at least "
        f"{memorized.threshold_probability:g} under the reference model (likely "
        f"memorized text); {fmt_count(memorized.n_pairs_with_memorized)} pairs hold one."
    )
    fit = results.estimate(memorized.estimate)
    if fit is not None and fit.fitted:
        sentence += (
            f" Without those pairs the headline fit gives alpha = {fmt_coef(fit.alpha)} "
            f"(SE {fmt_coef(fit.se)}; slice {fit.slice} in the estimates table)."
        )
    elif fit is not None:
        sentence += f" The headline fit without them could not run: {fit.reason}."
    sentences.append(sentence)
    return Section("debiasing", DEBIASING_TITLE, tuple(sentences))


def influence_section(audit: AuditFolder) -> Section | None:
    """Sentences, the CV3 robustness row and the most influential prompts; None when the folder has no influence.json."""

    summary = audit.influence_summary
    if summary is None:
        return None
    if not summary.available:
        return Section("influence", INFLUENCE_TITLE, (f"No influence was computed: {summary.reason}",))
    loo = summary.leave_one_prompt_out  # quantiles q00 ... q100 of alpha with each prompt left out; empty when none converged
    method = "refitting exactly" if summary.prompt_method == "exact" else "a one-step approximation (more prompts than the exact limit)"
    sentences = [
        f"For the headline fit ({summary.estimate}, alpha = {fmt_coef(summary.alpha)}), each prompt's pairs were left out in turn "
        f"({method}): alpha then ranges from {fmt_coef(loo.get('q00'))} to {fmt_coef(loo.get('q100'))} over {fmt_count(summary.n_prompts)} prompts "
        f"(5th to 95th percentile {fmt_coef(loo.get('q05'))} to {fmt_coef(loo.get('q95'))})."
    ]
    top = summary.without_top_prompts  # the refit without the prompts that move alpha most towards zero
    if top["fitted"]:
        sentences.append(
            f"Without the top {fmt_count(top['n_prompts_removed'])} prompts ({100 * top['share']:g}%, "
            f"{fmt_count(top['n_pairs_removed'])} pairs), those whose removal "
            f"moves alpha most towards zero, alpha = {fmt_coef(top['alpha'])} (SE "
            f"{fmt_coef(top['se'])}; 95% CI {fmt_interval(top['ci_low'], top['ci_high'])}), "
            f"a change of {fmt_signed(top['change'], 3)}" + ("; its sign changes." if top["sign_changed"] else ".")
        )
    else:
        sentences.append(f"The fit without the top {fmt_count(top['n_prompts_removed'])} prompts could not run: {top['reason']}.")
    cv3 = summary.cv3  # the cluster jackknife: se, ci_low, ci_high, p_value (None when it cannot be computed), df
    robustness = (
        ("sandwich (CV1, the headline)", fmt_coef(summary.cv1_se), "as in the estimates table", ""),
        (f"cluster jackknife (CV3, t with {cv3['df']} df)", fmt_coef(cv3["se"]), fmt_interval(cv3["ci_low"], cv3["ci_high"]), fmt_p(cv3["p_value"])),
    )
    tables = [Table(ROBUSTNESS_COLUMNS, robustness)]
    prompts = top_prompts(audit)
    if prompts:
        rows = tuple((row["rank"], row["alpha_without"], row["change"], row["n_pairs"], row["excerpt"]) for row in prompts)
        tables.append(Table(PROMPT_COLUMNS, rows, intro=PROMPTS_INTRO))
    return Section("influence", INFLUENCE_TITLE, tuple(sentences), tables=tuple(tables))


def top_prompts(audit: AuditFolder) -> list[dict]:
    """The most influential prompts by influence.parquet's rank, with the prompt's end as a one-line excerpt."""
    table = audit.influence
    if table is None or "level" not in table.columns:
        return []
    prompts = table[table["level"] == "prompt"].sort_values("rank").head(N_TOP_PROMPTS)
    texts = _prompt_texts(audit)
    rows = []
    for _, row in prompts.iterrows():
        text = texts.get(str(row["prompt_id"]))
        rows.append(
            {
                "rank": str(int(row["rank"])),
                "alpha_without": fmt(row["alpha_without"], 4),
                "change": f"{number(row['change']):+.4f}" if number(row["change"]) is not None else "not available",
                "n_pairs": str(int(row["n_pairs"])),
                "excerpt": clip_end(" ".join(str(text).split()), EXCERPT_CHARS) if text is not None else f"(prompt {row['prompt_id']}: text not available)",
            }
        )
    return rows


def _prompt_texts(audit: AuditFolder) -> dict[str, str]:
    data = audit.data
    if data is None or "prompt" not in data.responses.columns:
        return {}
    prompts = data.responses.drop_duplicates("prompt_id")
    return dict(zip(prompts["prompt_id"].astype(str), prompts["prompt"]))
