"""The comparison report: comparison.md and one self-contained comparison.html, from a comparison folder.

Everything statistical is in comparison.json (`typicality.stats.compare`), read back as the typed
`ComparisonResults` (typicality/comparison_results.py); here its attributes are worded, tabulated
and drawn. The same escaping and no-script rules as the audit report: the templates go through
`render.py`'s environments (HTML autoescaped, Markdown escaped by `finalize`), figures are PNGs
embedded as data URIs in the HTML, and the page's policy forbids scripts.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import seaborn as sns
from markupsafe import Markup

from typicality.comparison_folder import COMPARISON_FIGURES_FOLDER, COMPARISON_HTML_FILE, COMPARISON_MARKDOWN_FILE, load_comparison
from typicality.comparison_results import (
    ComparisonResults,
    DatasetComparison,
    Equality,
    LabelComparison,
    ModelAlpha,
    ModelComparison,
    ModelDifference,
    SourceAlpha,
    SourceDifference,
)
from typicality.formatting import fmt, fmt_coef, fmt_count, fmt_interval, fmt_p, fmt_percent
from typicality.report.figures import DPI, _new_figure, _style, plain_label
from typicality.report.render import _environment
from typicality.results import EQUAL_CORRECTNESS, LENGTH_CONTROL
from typicality.safe_text import printable


@dataclass
class ComparisonPaths:
    markdown: Path
    html: Path
    figures: list[Path]


def render_comparison(folder: str | Path) -> ComparisonPaths:
    """Draw the figures and write comparison.md and comparison.html into a comparison folder."""
    folder = Path(folder)
    comparison = load_comparison(folder)
    figures = draw_comparison_figures(comparison, folder)
    context = comparison_context(comparison)
    context["folder"] = folder.name
    # Control characters shown as visible escapes in both files, as in the audit's report (render.py).
    markdown = printable(_environment(markdown=True).get_template("comparison.md.j2").render(**context, figures=_entries(figures, folder, embed=False)))
    html = printable(_environment(markdown=False).get_template("comparison.html.j2").render(**context, figures=_entries(figures, folder, embed=True)))
    (folder / COMPARISON_MARKDOWN_FILE).write_text(markdown, encoding="utf-8")
    (folder / COMPARISON_HTML_FILE).write_text(html, encoding="utf-8")
    return ComparisonPaths(folder / COMPARISON_MARKDOWN_FILE, folder / COMPARISON_HTML_FILE, [item["path"] for item in figures])


def _entries(figures: list[dict], folder: Path, embed: bool) -> list[dict]:
    entries = []
    for item in figures:
        if embed:
            src = "data:image/png;base64," + base64.b64encode(item["path"].read_bytes()).decode("ascii")
        else:
            src = Markup(item["path"].relative_to(folder).as_posix())
        entries.append({"title": item["title"], "caption": item["caption"], "src": src})
    return entries


# --- Words ------------------------------------------------------------------------------------


def summary_sentences(comparison: ComparisonResults) -> list[str]:
    """The comparison's answer in a few sentences (the report's top box and the CLI's output)."""
    if comparison.kind == "models":
        return _model_sentences(comparison.models)
    if comparison.kind == "labels":
        return _label_sentences(comparison.labels) + [_label_source_wording(comparison.audits)]
    return _dataset_sentences(comparison.datasets)


def _model_sentences(models: ModelComparison) -> list[str]:
    sentences = []
    for row in models.correlations:
        first, second = row.models
        sentences.append(
            f"Typicality ({models.typicality}) under {first} and {second}: Pearson r = {row.response_pearson:.4f}, "
            f"Spearman ρ = {row.response_spearman:.4f} over {row.n_responses:,} responses (mean "
            f"|difference| {fmt_coef(row.mean_abs_difference)}{f', max {fmt_coef(row.max_abs_difference)}' if row.has_max else ''}); "
            f"the pairs' Δℓ: Pearson r = {row.delta_pearson:.4f}, same sign in {fmt_percent(row.delta_same_sign)} of pairs."
        )
    joint = models.joint_fit
    alphas = "; ".join(f"{row.model}: {fmt_coef(row.alpha)} (SE {fmt_coef(row.se)}, 95% CI {fmt_interval(row.ci_low, row.ci_high)})" for row in joint.alphas)
    sentences.append(
        f"Alpha per model, from one joint fit on the same {models.n_pairs:,} pairs ({models.n_prompts:,} prompts) with prompt-clustered SEs: {alphas}."
    )
    sentences.extend(_difference_sentence(row.models, row) for row in joint.differences)
    agreement = models.agreement
    rates = ", ".join(f"{row.model} {fmt_percent(row.rate)}" for row in agreement.rates)
    for test in agreement.mcnemar:
        first, second = test.models
        sentences.append(
            f"Agreement rate (preferred response is the more typical) on {agreement.n_pairs:,} pairs: {rates}; "
            f"McNemar's test ({test.method}) p = {fmt_p(test.p_value)}: {test.only_first_agrees} "
            f"pairs agree only under {first}, {test.only_second_agrees} only under {second}."
        )
    return sentences


def _difference_sentence(names: list[str], row: ModelDifference | SourceDifference) -> str:
    first, second = names
    return (
        f"Difference {second} − {first}: {fmt_coef(row.difference)} (SE {fmt_coef(row.se)}, 95% CI {fmt_interval(row.ci_low, row.ci_high)}; "
        f"Wald p = {fmt_p(row.p_value)}). Treating the two audits as independent would give an SE of {fmt_coef(row.se_if_independent)}."
    )


def _label_sentences(labels: LabelComparison) -> list[str]:
    sentences = []
    for row in labels.agreement:
        first, second = row.sources
        kappa = (
            f"Cohen's κ = {fmt(row.kappa, 3)} (95% CI {fmt_interval(row.kappa_ci_low, row.kappa_ci_high)})"
            if row.kappa is not None
            else "Cohen's κ is undefined (one source gives every pair the same label)"
        )
        sentences.append(
            f"Labels of {first} and {second} on the same {row.n_pairs:,} pairs: they differ on {row.n_differ:,} "
            f"({fmt_percent(row.share_differ)}); {kappa}."
        )
    joint = labels.joint_fit
    alphas = "; ".join(f"{row.source}: {fmt_coef(row.alpha)} (SE {fmt_coef(row.se)}, 95% CI {fmt_interval(row.ci_low, row.ci_high)})" for row in joint.alphas)
    sentences.append(
        f"Alpha per label source, from one joint fit with a source × Δℓ interaction on the same {labels.n_pairs:,} pairs "
        f"({labels.n_prompts:,} prompts) with prompt-clustered SEs: {alphas}."
    )
    sentences.extend(_difference_sentence(row.sources, row) for row in joint.differences)
    if joint.equality is not None:
        sentences.append(
            f"All sources' alphas equal (no source × Δℓ interaction): χ² = {fmt(joint.equality.chi2, 2)} on {joint.equality.df} df, "
            f"p = {fmt_p(joint.equality.p_value)}."
        )
    return sentences


def _label_source_wording(audits) -> str:
    """Bias or association, in the headline's words: the sources' alphas are the audits' own fit, so they are what it is.

    A fit holds quality fixed when it is the equal-correctness slice or adjusts for a rating other than length
    (`typicality.results.is_quality_controlled`, read here from the compared fit because comparison.json keeps its slice and controls).
    """
    estimate = audits[0].estimate
    held = [control for control in estimate.controls if control != LENGTH_CONTROL]
    if estimate.slice == EQUAL_CORRECTNESS or held:
        fixed = ", ".join(held) if held else "equal correctness"
        return (
            f"As in each audit's headline, these alphas are typicality-bias estimates controlled for quality ({fixed} held fixed): "
            "a larger alpha means that source's labels favour typical text more beyond that quality."
        )
    return (
        "As in each audit's headline, these alphas are associations, not bias estimates: no quality rating is held fixed, so a source "
        "whose labels follow a quality that typicality also tracks shows a larger alpha; the difference says how differently the "
        "sources' labels follow typicality, not which source is more biased."
    )


def _dataset_sentences(datasets: DatasetComparison) -> list[str]:
    sentences = [
        f"{row.label}: alpha = {fmt_coef(row.alpha)} per nat (SD of Δℓ {fmt(row.sd_delta)}), i.e. {fmt(row.effect_per_sd)} log-odds per SD "
        f"(95% CI {fmt_interval(row.ci_low, row.ci_high)}; odds ratio "
        f"{fmt(row.odds_ratio_per_sd)}); p = {fmt_p(row.p_value)}, Holm-adjusted {fmt_p(row.p_holm)}."
        for row in datasets.datasets
    ]
    pooled = datasets.pooled
    random = pooled.random
    sentences.append(
        f"Pooled by random effects: {fmt(random.effect)} log-odds per SD (95% CI "
        f"{fmt_interval(random.ci_low, random.ci_high)}; odds ratio {fmt(random.odds_ratio)}); "
        f"tau² = {fmt_coef(pooled.tau2)}, I² = {fmt_percent(pooled.i2)}, Cochran's Q "
        f"= {fmt(pooled.q, 2)} on {pooled.q_df} df (p = {fmt_p(pooled.q_p_value)})."
    )
    for row in datasets.differences:
        first, second = row.datasets
        sentences.append(
            f"{second} − {first}: {fmt(row.difference)} log-odds per SD (95% CI "
            f"{fmt_interval(row.ci_low, row.ci_high)}; p = {fmt_p(row.p_value)}, Holm {fmt_p(row.p_holm)})."
        )
    return sentences


TITLES = {"models": "Model comparison: ", "labels": "Label-source comparison: ", "datasets": "Dataset comparison: "}
KIND_WORDS = {"models": "model", "labels": "label-source", "datasets": "dataset"}


def comparison_context(comparison: ComparisonResults) -> dict:
    """Everything the templates show, as strings."""
    kind = comparison.kind
    audits = [
        {
            "label": item.label,
            "dataset": item.dataset_name,
            "model": item.model_name,
            "estimate": item.estimate.id,
            "alpha": fmt_coef(item.estimate.alpha),
            "se": fmt_coef(item.estimate.se),
            "pairs": fmt_count(item.estimate.n_pairs),
            "prompts": fmt_count(item.estimate.n_clusters),
        }
        for item in comparison.audits
    ]
    return {
        "title": TITLES[kind] + ", ".join(comparison.labels_in_order),
        "kind": KIND_WORDS[kind],
        "effect": comparison.effect or "headline",
        "sentences": summary_sentences(comparison),
        "audits": audits,
        "warnings": list(comparison.warnings),
        "software": [(name, str(version)) for name, version in comparison.software.items()],
        "model_tables": _model_tables(comparison.models) if kind == "models" else None,
        "label_tables": _label_tables(comparison.labels) if kind == "labels" else None,
        "dataset_tables": _dataset_tables(comparison.datasets) if kind == "datasets" else None,
    }


def _equality_words(equality: Equality | None) -> str | None:
    if equality is None:
        return None
    return f"All alphas equal: χ² = {fmt(equality.chi2, 2)} on {equality.df} df, p = {fmt_p(equality.p_value)}."


def _difference_rows(differences: list[ModelDifference] | list[SourceDifference], key: str, names) -> list[dict]:
    return [
        {
            key: f"{names(row)[1]} − {names(row)[0]}",
            "difference": fmt_coef(row.difference),
            "se": fmt_coef(row.se),
            "ci": fmt_interval(row.ci_low, row.ci_high),
            "z": fmt(row.z, 2),
            "p": fmt_p(row.p_value),
            "se_independent": fmt_coef(row.se_if_independent),
        }
        for row in differences
    ]


def _model_tables(models: ModelComparison) -> dict:
    joint = models.joint_fit
    return {
        "spec": models.spec.describe(),
        "with_max": all(row.has_max for row in models.correlations),  # comparisons written before the max have no column for it
        "correlations": [
            {
                "models": " vs ".join(row.models),
                "responses": fmt_count(row.n_responses),
                "pearson": fmt(row.response_pearson, 4),
                "spearman": fmt(row.response_spearman, 4),
                "mad": fmt_coef(row.mean_abs_difference),
                "max_ad": fmt_coef(row.max_abs_difference),
                "delta_pearson": fmt(row.delta_pearson, 4),
                "delta_spearman": fmt(row.delta_spearman, 4),
                "same_sign": fmt_percent(row.delta_same_sign),
            }
            for row in models.correlations
        ],
        "alphas": [
            {"model": row.model, "alpha": fmt_coef(row.alpha), "se": fmt_coef(row.se), "ci": fmt_interval(row.ci_low, row.ci_high), "p": fmt_p(row.p_value)}
            for row in joint.alphas
        ],
        "differences": _difference_rows(joint.differences, "models", lambda row: row.models),
        "equality": _equality_words(joint.equality),
        "rates": [{"model": row.model, "agree": fmt_count(row.n_agree), "rate": fmt_percent(row.rate)} for row in models.agreement.rates],
        "mcnemar": [
            {
                "models": " vs ".join(test.models),
                "both": fmt_count(test.table[0][0]),
                "first": fmt_count(test.only_first_agrees),
                "second": fmt_count(test.only_second_agrees),
                "neither": fmt_count(test.table[1][1]),
                "method": test.method,
                "p": fmt_p(test.p_value),
            }
            for test in models.agreement.mcnemar
        ],
        "n_pairs": fmt_count(models.agreement.n_pairs),
    }


def _label_tables(labels: LabelComparison) -> dict:
    joint = labels.joint_fit
    return {
        "spec": labels.spec.describe(),
        "n_pairs": fmt_count(labels.n_pairs),
        "judgements": ", ".join(f"{source} {fmt_count(count)}" for source, count in labels.n_judgements.items()),
        "agreement": [
            {
                "sources": " vs ".join(row.sources),
                "pairs": fmt_count(row.n_pairs),
                "differ": fmt_count(row.n_differ),
                "share": fmt_percent(row.share_differ),
                "kappa": fmt(row.kappa, 3) if row.kappa is not None else "undefined",
                "kappa_se": fmt(row.kappa_se, 3) if row.kappa_se is not None else "",
                "kappa_ci": fmt_interval(row.kappa_ci_low, row.kappa_ci_high) if row.kappa is not None else "",
                "table": "; ".join(
                    f"{first}/{second} {fmt_count(row.table[i][j])}"
                    for i, first in enumerate(row.categories)
                    for j, second in enumerate(row.categories)
                    if row.table[i][j]
                ),
            }
            for row in labels.agreement
        ],
        "alphas": [
            {"source": row.source, "alpha": fmt_coef(row.alpha), "se": fmt_coef(row.se), "ci": fmt_interval(row.ci_low, row.ci_high), "p": fmt_p(row.p_value)}
            for row in joint.alphas
        ],
        "differences": _difference_rows(joint.differences, "sources", lambda row: row.sources),
        "equality": _equality_words(joint.equality),
    }


def _dataset_tables(datasets: DatasetComparison) -> dict:
    pooled = datasets.pooled
    return {
        "rows": [
            {
                "label": row.label,
                "alpha": fmt_coef(row.alpha),
                "se": fmt_coef(row.se),
                "sd": fmt(row.sd_delta),
                "effect": fmt(row.effect_per_sd),
                "se_effect": fmt(row.se_per_sd),
                "ci": fmt_interval(row.ci_low, row.ci_high),
                "odds": fmt(row.odds_ratio_per_sd),
                "p": fmt_p(row.p_value),
                "holm": fmt_p(row.p_holm),
                "pairs": fmt_count(row.n_pairs),
                "prompts": fmt_count(row.n_clusters),
                "weight": fmt_percent(pooled.weights.get(row.label)),
            }
            for row in datasets.datasets
        ],
        "pooled": [
            {
                "name": name,
                "effect": fmt(entry.effect),
                "se": fmt(entry.se),
                "ci": fmt_interval(entry.ci_low, entry.ci_high),
                "odds": fmt(entry.odds_ratio),
                "p": fmt_p(entry.p_value),
            }
            for name, entry in (("random effects (DerSimonian-Laird)", pooled.random), ("fixed effect", pooled.fixed))
        ],
        "heterogeneity": f"tau² = {fmt_coef(pooled.tau2)} (tau = {fmt_coef(pooled.tau)}), I² = {fmt_percent(pooled.i2)}, "
                         f"Cochran's Q = {fmt(pooled.q, 2)} on {pooled.q_df} df, p = {fmt_p(pooled.q_p_value)}.",
        "differences": [
            {
                "datasets": f"{row.datasets[1]} − {row.datasets[0]}",
                "difference": fmt(row.difference),
                "se": fmt(row.se),
                "ci": fmt_interval(row.ci_low, row.ci_high),
                "p": fmt_p(row.p_value),
                "holm": fmt_p(row.p_holm),
            }
            for row in datasets.differences
        ],
    }


# --- Figures ----------------------------------------------------------------------------------


def draw_comparison_figures(comparison: ComparisonResults, folder: Path) -> list[dict]:
    """PNG figures into folder/figures: scatter per model pair and alpha per model, alpha per label source, or the forest plot."""
    target = folder / COMPARISON_FIGURES_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    if comparison.kind == "models":
        return _scatter_figures(comparison, target) + [_alpha_figure(comparison.models.joint_fit.alphas, comparison.models.typicality, target)]
    if comparison.kind == "labels":
        return [_alpha_figure(comparison.labels.joint_fit.alphas, comparison.labels.typicality, target, unit="source")]
    return [_forest_figure(comparison.datasets, target)]


def _scatter_figures(comparison: ComparisonResults, target: Path) -> list[dict]:
    typicality = comparison.typicality
    if typicality is None:
        return []
    models = comparison.models
    figures = []
    for (i, first), (j, second) in itertools.combinations(enumerate(comparison.labels_in_order), 2):
        x, y = typicality[first].to_numpy(), typicality[second].to_numpy()
        row = models.correlation(first, second)
        with _style():
            figure = _new_figure(6.0, 5.2)
            axes = figure.add_subplot()
            sns.scatterplot(x=x, y=y, ax=axes, s=9, alpha=0.45, linewidth=0, color="#4C72B0")
            low, high = float(np.nanmin([x.min(), y.min()])), float(np.nanmax([x.max(), y.max()]))
            axes.plot([low, high], [low, high], color="#C44E52", linewidth=1, label="equal typicality")
            axes.set_xlabel(plain_label(f"{first}: {models.typicality}"))
            axes.set_ylabel(plain_label(f"{second}: {models.typicality}"))
            axes.set_title(f"Pearson r = {row.response_pearson:.4f}, Spearman ρ = {row.response_spearman:.4f} ({row.n_responses:,} responses)")
            axes.legend(loc="upper left")
        path = target / f"typicality_scatter_{i}_{j}.png"
        figure.savefig(path, dpi=DPI, format="png")
        figures.append({"path": path, "title": f"Per-response typicality: {first} vs {second}",
                        "caption": "Each point is one response's typicality under the two reference models; the red line is equality."})
    return figures


def _alpha_figure(rows: list[ModelAlpha] | list[SourceAlpha], typicality: str, target: Path, unit: str = "model") -> dict:
    """Alpha with its CI per model (or per label source, `unit="source"`) from the joint fit."""
    with _style():
        figure = _new_figure(6.5, 1.2 + 0.6 * len(rows))
        axes = figure.add_subplot()
        positions = np.arange(len(rows))[::-1]
        alphas = np.array([row.alpha for row in rows])
        errors = np.array([[row.alpha - row.ci_low, row.ci_high - row.alpha] for row in rows]).T
        axes.errorbar(alphas, positions, xerr=errors, fmt="o", color="#4C72B0", capsize=4)
        axes.axvline(0, color="#888888", linewidth=1, linestyle="--")
        axes.set_yticks(positions, [plain_label(getattr(row, unit)) for row in rows])
        axes.set_xlabel(f"alpha ({typicality}), 95% CI from the joint fit")
    path = target / f"alpha_by_{unit}.png"
    figure.savefig(path, dpi=DPI, format="png")
    what = "reference model" if unit == "model" else "label source"
    return {
        "path": path,
        "title": f"Alpha per {what}",
        "caption": f"Alpha and its 95% CI per {unit} from one stacked fit with prompt-clustered SEs (same pairs).",
    }


def _forest_figure(datasets: DatasetComparison, target: Path) -> dict:
    pooled = datasets.pooled
    entries = [(row.label, row.effect_per_sd, row.ci_low, row.ci_high, "o") for row in datasets.datasets]
    entries += [("pooled (random effects)", pooled.random.effect, pooled.random.ci_low, pooled.random.ci_high, "D"),
                ("pooled (fixed effect)", pooled.fixed.effect, pooled.fixed.ci_low, pooled.fixed.ci_high, "D")]
    with _style():
        figure = _new_figure(7.0, 1.4 + 0.55 * len(entries))
        axes = figure.add_subplot()
        positions = np.arange(len(entries))[::-1]
        for position, (name, effect, low, high, marker) in zip(positions, entries):
            color = "#C44E52" if marker == "D" else "#4C72B0"
            axes.errorbar([effect], [position], xerr=[[effect - low], [high - effect]], fmt=marker, color=color, capsize=4, markersize=7)
        axes.axvline(0, color="#888888", linewidth=1, linestyle="--")
        axes.set_yticks(positions, [plain_label(entry[0]) for entry in entries])
        axes.set_xlabel("alpha × SD(Δℓ): log odds ratio per SD, 95% CI")
    path = target / "forest.png"
    figure.savefig(path, dpi=DPI, format="png")
    return {"path": path, "title": "Forest plot", "caption": "Each dataset's effect per SD of Δℓ with its 95% CI, and the pooled estimates (red diamonds)."}
