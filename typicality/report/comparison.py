"""The comparison report: comparison.md and one self-contained comparison.html, from a comparison folder.

Everything statistical is in comparison.json (`typicality.stats.compare`); here it is worded,
tabulated and drawn. The same escaping and no-script rules as the audit report: the templates
go through `render.py`'s environments (HTML autoescaped, Markdown escaped by `finalize`),
figures are PNGs embedded as data URIs in the HTML, and the page's policy forbids scripts.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import seaborn as sns
from markupsafe import Markup

from typicality.comparison_folder import (
    COMPARISON_FIGURES_FOLDER,
    COMPARISON_HTML_FILE,
    COMPARISON_MARKDOWN_FILE,
    load_comparison,
    load_typicality,
)
from typicality.formatting import fmt, fmt_coef, fmt_count, fmt_interval, fmt_p, fmt_percent
from typicality.report.figures import DPI, _new_figure, _style
from typicality.report.render import _environment


@dataclass
class ComparisonPaths:
    markdown: Path
    html: Path
    figures: list[Path]


def render_comparison(folder: str | Path) -> ComparisonPaths:
    """Draw the figures and write comparison.md and comparison.html into a comparison folder."""
    folder = Path(folder)
    content = load_comparison(folder)
    figures = draw_comparison_figures(content, folder)
    context = comparison_context(content)
    context["folder"] = folder.name
    markdown = _environment(markdown=True).get_template("comparison.md.j2").render(**context, figures=_entries(figures, folder, embed=False))
    html = _environment(markdown=False).get_template("comparison.html.j2").render(**context, figures=_entries(figures, folder, embed=True))
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


def _audit_names(content: dict) -> str:
    return ", ".join(item["label"] for item in content["audits"])


def summary_sentences(content: dict) -> list[str]:
    """The comparison's answer in a few sentences (the report's top box and the CLI's output)."""
    if content["kind"] == "models":
        return _model_sentences(content["models"])
    if content["kind"] == "labels":
        return _label_sentences(content["labels"])
    return _dataset_sentences(content["datasets"])


def _model_sentences(models: dict) -> list[str]:
    sentences = []
    for row in models["correlations"]:
        first, second = row["models"]
        sentences.append(
            f"Typicality ({models['typicality']}) under {first} and {second}: Pearson r = {row['response_pearson']:.4f}, "
            f"Spearman ρ = {row['response_spearman']:.4f} over {row['n_responses']:,} responses (mean "
            f"|difference| {fmt_coef(row['mean_abs_difference'])}, max {fmt_coef(row['max_abs_difference'])}); "
            f"the pairs' Δℓ: Pearson r = {row['delta_pearson']:.4f}, same sign in {fmt_percent(row['delta_same_sign'])} of pairs."
        )
    joint = models["joint_fit"]
    alphas = "; ".join(
        f"{row['model']}: {fmt_coef(row['alpha'])} (SE {fmt_coef(row['se'])}, 95% CI {fmt_interval(row['ci_low'], row['ci_high'])})" for row in joint["alphas"]
    )
    sentences.append(
        f"Alpha per model, from one joint fit on the same {models['n_pairs']:,} pairs ({models['n_prompts']:,} prompts) with prompt-clustered SEs: {alphas}."
    )
    for row in joint["differences"]:
        first, second = row["models"]
        sentences.append(
            f"Difference {second} − {first}: {fmt_coef(row['difference'])} (SE {fmt_coef(row['se'])}, 95% CI {fmt_interval(row['ci_low'], row['ci_high'])}; "
            f"Wald p = {fmt_p(row['p_value'])}). Treating the two audits as independent would give an SE of {fmt_coef(row['se_if_independent'])}."
        )
    agreement = models["agreement"]
    rates = ", ".join(f"{row['model']} {fmt_percent(row['rate'])}" for row in agreement["rates"])
    for test in agreement["mcnemar"]:
        first, second = test["models"]
        sentences.append(
            f"Agreement rate (preferred response is the more typical) on {agreement['n_pairs']:,} pairs: {rates}; "
            f"McNemar's test ({test['method']}) p = {fmt_p(test['p_value'])}: {test['only_first_agrees']} "
            f"pairs agree only under {first}, {test['only_second_agrees']} only under {second}."
        )
    return sentences


def _label_sentences(labels: dict) -> list[str]:
    sentences = []
    for row in labels["agreement"]:
        first, second = row["sources"]
        kappa = (
            f"Cohen's κ = {fmt(row['kappa'], 3)} (95% CI {fmt_interval(row['kappa_ci_low'], row['kappa_ci_high'])})"
            if row["kappa"] is not None
            else "Cohen's κ is undefined (one source gives every pair the same label)"
        )
        sentences.append(
            f"Labels of {first} and {second} on the same {row['n_pairs']:,} pairs: they differ on {row['n_differ']:,} "
            f"({fmt_percent(row['share_differ'])}); {kappa}."
        )
    joint = labels["joint_fit"]
    alphas = "; ".join(
        f"{row['source']}: {fmt_coef(row['alpha'])} (SE {fmt_coef(row['se'])}, 95% CI {fmt_interval(row['ci_low'], row['ci_high'])})" for row in joint["alphas"]
    )
    sentences.append(
        f"Alpha per label source, from one joint fit with a source × Δℓ interaction on the same {labels['n_pairs']:,} pairs "
        f"({labels['n_prompts']:,} prompts) with prompt-clustered SEs: {alphas}."
    )
    for row in joint["differences"]:
        first, second = row["sources"]
        sentences.append(
            f"Difference {second} − {first}: {fmt_coef(row['difference'])} (SE {fmt_coef(row['se'])}, 95% CI {fmt_interval(row['ci_low'], row['ci_high'])}; "
            f"Wald p = {fmt_p(row['p_value'])}). Treating the two audits as independent would give an SE of {fmt_coef(row['se_if_independent'])}."
        )
    if "equality" in joint:
        sentences.append(
            f"All sources' alphas equal (no source × Δℓ interaction): χ² = {fmt(joint['equality']['chi2'], 2)} on {joint['equality']['df']} df, "
            f"p = {fmt_p(joint['equality']['p_value'])}."
        )
    return sentences


def _dataset_sentences(datasets: dict) -> list[str]:
    sentences = [
        f"{row['label']}: alpha = {fmt_coef(row['alpha'])} per nat (SD of Δℓ {fmt(row['sd_delta'])}), i.e. {fmt(row['effect_per_sd'])} log-odds per SD "
        f"(95% CI {fmt_interval(row['ci_low'], row['ci_high'])}; odds ratio "
        f"{fmt(row['odds_ratio_per_sd'])}); p = {fmt_p(row['p_value'])}, Holm-adjusted {fmt_p(row['p_holm'])}."
        for row in datasets["datasets"]
    ]
    pooled = datasets["pooled"]
    random = pooled["random"]
    sentences.append(
        f"Pooled by random effects: {fmt(random['effect'])} log-odds per SD (95% CI "
        f"{fmt_interval(random['ci_low'], random['ci_high'])}; odds ratio {fmt(random['odds_ratio'])}); "
        f"tau² = {fmt_coef(pooled['tau2'])}, I² = {fmt_percent(pooled['i2'])}, Cochran's Q "
        f"= {fmt(pooled['q'], 2)} on {pooled['q_df']} df (p = {fmt_p(pooled['q_p_value'])})."
    )
    for row in datasets["differences"]:
        first, second = row["datasets"]
        sentences.append(
            f"{second} − {first}: {fmt(row['difference'])} log-odds per SD (95% CI "
            f"{fmt_interval(row['ci_low'], row['ci_high'])}; p = {fmt_p(row['p_value'])}, Holm {fmt_p(row['p_holm'])})."
        )
    return sentences


def comparison_context(content: dict) -> dict:
    """Everything the templates show, as strings."""
    kind = content["kind"]
    audits = [
        {
            "label": item["label"],
            "dataset": item["dataset"].get("title")
            or " / ".join(str(part) for part in (item["dataset"].get("name"), item["dataset"].get("subset"), item["dataset"].get("split")) if part),
            "model": item["model"].get("fingerprint") or item["model"].get("name") or "unknown",
            "estimate": item["estimate"]["id"],
            "alpha": fmt_coef(item["estimate"]["alpha"]),
            "se": fmt_coef(item["estimate"]["se"]),
            "pairs": fmt_count(item["estimate"]["n_pairs"]),
            "prompts": fmt_count(item["estimate"]["n_clusters"]),
        }
        for item in content["audits"]
    ]
    context = {
        "title": {"models": "Model comparison: ", "labels": "Label-source comparison: ", "datasets": "Dataset comparison: "}[kind] + _audit_names(content),
        "kind": {"models": "model", "labels": "label-source", "datasets": "dataset"}[kind],
        "effect": content.get("effect", "headline"),
        "sentences": summary_sentences(content),
        "audits": audits,
        "warnings": list(content.get("warnings", [])),
        "software": [(name, str(version)) for name, version in (content.get("software") or {}).items()],
        "model_tables": None,
        "label_tables": None,
        "dataset_tables": None,
    }
    if kind == "models":
        context["model_tables"] = _model_tables(content["models"])
    elif kind == "labels":
        context["label_tables"] = _label_tables(content["labels"])
    else:
        context["dataset_tables"] = _dataset_tables(content["datasets"])
    return context


def _model_tables(models: dict) -> dict:
    joint = models["joint_fit"]
    return {
        "spec": f"slice {models['spec']['slice']}, {models['spec']['typicality']}, controls: {', '.join(models['spec']['controls']) or 'none'}",
        "correlations": [
            {
                "models": " vs ".join(row["models"]),
                "responses": fmt_count(row["n_responses"]),
                "pearson": fmt(row["response_pearson"], 4),
                "spearman": fmt(row["response_spearman"], 4),
                "mad": fmt_coef(row["mean_abs_difference"]),
                "max_ad": fmt_coef(row["max_abs_difference"]),
                "delta_pearson": fmt(row["delta_pearson"], 4),
                "delta_spearman": fmt(row["delta_spearman"], 4),
                "same_sign": fmt_percent(row["delta_same_sign"]),
            }
            for row in models["correlations"]
        ],
        "alphas": [
            {
                "model": row["model"],
                "alpha": fmt_coef(row["alpha"]),
                "se": fmt_coef(row["se"]),
                "ci": fmt_interval(row["ci_low"], row["ci_high"]),
                "p": fmt_p(row["p_value"]),
            }
            for row in joint["alphas"]
        ],
        "differences": [
            {
                "models": f"{row['models'][1]} − {row['models'][0]}",
                "difference": fmt_coef(row["difference"]),
                "se": fmt_coef(row["se"]),
                "ci": fmt_interval(row["ci_low"], row["ci_high"]),
                "z": fmt(row["z"], 2),
                "p": fmt_p(row["p_value"]),
                "se_independent": fmt_coef(row["se_if_independent"]),
            }
            for row in joint["differences"]
        ],
        "equality": None
        if "equality" not in joint
        else f"All alphas equal: χ² = {fmt(joint['equality']['chi2'], 2)} on {joint['equality']['df']} df, p = {fmt_p(joint['equality']['p_value'])}.",
        "rates": [{"model": row["model"], "agree": fmt_count(row["n_agree"]), "rate": fmt_percent(row["rate"])} for row in models["agreement"]["rates"]],
        "mcnemar": [
            {
                "models": " vs ".join(test["models"]),
                "both": fmt_count(test["table"][0][0]),
                "first": fmt_count(test["only_first_agrees"]),
                "second": fmt_count(test["only_second_agrees"]),
                "neither": fmt_count(test["table"][1][1]),
                "method": test["method"],
                "p": fmt_p(test["p_value"]),
            }
            for test in models["agreement"]["mcnemar"]
        ],
        "n_pairs": fmt_count(models["agreement"]["n_pairs"]),
    }


def _label_tables(labels: dict) -> dict:
    joint = labels["joint_fit"]
    return {
        "spec": f"slice {labels['spec']['slice']}, {labels['spec']['typicality']}, controls: {', '.join(labels['spec']['controls']) or 'none'}",
        "n_pairs": fmt_count(labels["n_pairs"]),
        "judgements": ", ".join(f"{source} {fmt_count(count)}" for source, count in labels["n_judgements"].items()),
        "agreement": [
            {
                "sources": " vs ".join(row["sources"]),
                "pairs": fmt_count(row["n_pairs"]),
                "differ": fmt_count(row["n_differ"]),
                "share": fmt_percent(row["share_differ"]),
                "kappa": fmt(row["kappa"], 3) if row["kappa"] is not None else "undefined",
                "kappa_se": fmt(row["kappa_se"], 3) if row["kappa_se"] is not None else "",
                "kappa_ci": fmt_interval(row["kappa_ci_low"], row["kappa_ci_high"]) if row["kappa"] is not None else "",
                "table": "; ".join(
                    f"{first}/{second} {fmt_count(row['table'][i][j])}"
                    for i, first in enumerate(row["categories"])
                    for j, second in enumerate(row["categories"])
                    if row["table"][i][j]
                ),
            }
            for row in labels["agreement"]
        ],
        "alphas": [
            {"source": row["source"], "alpha": fmt_coef(row["alpha"]), "se": fmt_coef(row["se"]), "ci": fmt_interval(row["ci_low"], row["ci_high"]),
             "p": fmt_p(row["p_value"])}
            for row in joint["alphas"]
        ],
        "differences": [
            {
                "sources": f"{row['sources'][1]} − {row['sources'][0]}",
                "difference": fmt_coef(row["difference"]),
                "se": fmt_coef(row["se"]),
                "ci": fmt_interval(row["ci_low"], row["ci_high"]),
                "z": fmt(row["z"], 2),
                "p": fmt_p(row["p_value"]),
                "se_independent": fmt_coef(row["se_if_independent"]),
            }
            for row in joint["differences"]
        ],
        "equality": None
        if "equality" not in joint
        else f"All alphas equal: χ² = {fmt(joint['equality']['chi2'], 2)} on {joint['equality']['df']} df, p = {fmt_p(joint['equality']['p_value'])}.",
    }


def _dataset_tables(datasets: dict) -> dict:
    pooled = datasets["pooled"]
    return {
        "rows": [
            {
                "label": row["label"],
                "alpha": fmt_coef(row["alpha"]),
                "se": fmt_coef(row["se"]),
                "sd": fmt(row["sd_delta"]),
                "effect": fmt(row["effect_per_sd"]),
                "se_effect": fmt(row["se_per_sd"]),
                "ci": fmt_interval(row["ci_low"], row["ci_high"]),
                "odds": fmt(row["odds_ratio_per_sd"]),
                "p": fmt_p(row["p_value"]),
                "holm": fmt_p(row["p_holm"]),
                "pairs": fmt_count(row["n_pairs"]),
                "prompts": fmt_count(row["n_clusters"]),
                "weight": fmt_percent(pooled["weights"].get(row["label"])),
            }
            for row in datasets["datasets"]
        ],
        "pooled": [
            {
                "name": name,
                "effect": fmt(entry["effect"]),
                "se": fmt(entry["se"]),
                "ci": fmt_interval(entry["ci_low"], entry["ci_high"]),
                "odds": fmt(entry["odds_ratio"]),
                "p": fmt_p(entry["p_value"]),
            }
            for name, entry in (("random effects (DerSimonian-Laird)", pooled["random"]), ("fixed effect", pooled["fixed"]))
        ],
        "heterogeneity": f"tau² = {fmt_coef(pooled['tau2'])} (tau = {fmt_coef(pooled['tau'])}), I² = {fmt_percent(pooled['i2'])}, "
                         f"Cochran's Q = {fmt(pooled['q'], 2)} on {pooled['q_df']} df, p = {fmt_p(pooled['q_p_value'])}.",
        "differences": [
            {
                "datasets": f"{row['datasets'][1]} − {row['datasets'][0]}",
                "difference": fmt(row["difference"]),
                "se": fmt(row["se"]),
                "ci": fmt_interval(row["ci_low"], row["ci_high"]),
                "p": fmt_p(row["p_value"]),
                "holm": fmt_p(row["p_holm"]),
            }
            for row in datasets["differences"]
        ],
    }


# --- Figures ----------------------------------------------------------------------------------


def draw_comparison_figures(content: dict, folder: Path) -> list[dict]:
    """PNG figures into folder/figures: scatter per model pair and alpha per model, or the forest plot."""
    target = folder / COMPARISON_FIGURES_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    if content["kind"] == "models":
        figures = _scatter_figures(content, folder, target) + [_alpha_figure(content["models"], target)]
    elif content["kind"] == "labels":
        figures = [_alpha_figure(content["labels"], target, unit="source")]
    else:
        figures = [_forest_figure(content["datasets"], target)]
    return figures


def _scatter_figures(content: dict, folder: Path, target: Path) -> list[dict]:
    typicality = load_typicality(folder)
    if typicality is None:
        return []
    models = content["models"]
    labels = [item["label"] for item in content["audits"]]
    figures = []
    for (i, first), (j, second) in itertools.combinations(enumerate(labels), 2):
        x, y = typicality[first].to_numpy(), typicality[second].to_numpy()
        row = next(r for r in models["correlations"] if r["models"] == [first, second])
        with _style():
            figure = _new_figure(6.0, 5.2)
            axes = figure.add_subplot()
            sns.scatterplot(x=x, y=y, ax=axes, s=9, alpha=0.45, linewidth=0, color="#4C72B0")
            low, high = float(np.nanmin([x.min(), y.min()])), float(np.nanmax([x.max(), y.max()]))
            axes.plot([low, high], [low, high], color="#C44E52", linewidth=1, label="equal typicality")
            axes.set_xlabel(f"{first}: {models['typicality']}")
            axes.set_ylabel(f"{second}: {models['typicality']}")
            axes.set_title(f"Pearson r = {row['response_pearson']:.4f}, Spearman ρ = {row['response_spearman']:.4f} ({row['n_responses']:,} responses)")
            axes.legend(loc="upper left")
        path = target / f"typicality_scatter_{i}_{j}.png"
        figure.savefig(path, dpi=DPI, format="png")
        figures.append({"path": path, "title": f"Per-response typicality: {first} vs {second}",
                        "caption": "Each point is one response's typicality under the two reference models; the red line is equality."})
    return figures


def _alpha_figure(models: dict, target: Path, unit: str = "model") -> dict:
    """Alpha with its CI per model (or per label source, `unit="source"`) from the joint fit."""
    rows = models["joint_fit"]["alphas"]
    with _style():
        figure = _new_figure(6.5, 1.2 + 0.6 * len(rows))
        axes = figure.add_subplot()
        positions = np.arange(len(rows))[::-1]
        alphas = np.array([row["alpha"] for row in rows])
        errors = np.array([[row["alpha"] - row["ci_low"], row["ci_high"] - row["alpha"]] for row in rows]).T
        axes.errorbar(alphas, positions, xerr=errors, fmt="o", color="#4C72B0", capsize=4)
        axes.axvline(0, color="#888888", linewidth=1, linestyle="--")
        axes.set_yticks(positions, [row[unit] for row in rows])
        axes.set_xlabel(f"alpha ({models['typicality']}), 95% CI from the joint fit")
    path = target / f"alpha_by_{unit}.png"
    figure.savefig(path, dpi=DPI, format="png")
    what = "reference model" if unit == "model" else "label source"
    return {
        "path": path,
        "title": f"Alpha per {what}",
        "caption": f"Alpha and its 95% CI per {unit} from one stacked fit with prompt-clustered SEs (same pairs).",
    }


def _forest_figure(datasets: dict, target: Path) -> dict:
    rows = datasets["datasets"]
    pooled = datasets["pooled"]
    entries = [(row["label"], row["effect_per_sd"], row["ci_low"], row["ci_high"], "o") for row in rows]
    entries += [("pooled (random effects)", pooled["random"]["effect"], pooled["random"]["ci_low"], pooled["random"]["ci_high"], "D"),
                ("pooled (fixed effect)", pooled["fixed"]["effect"], pooled["fixed"]["ci_low"], pooled["fixed"]["ci_high"], "D")]
    with _style():
        figure = _new_figure(7.0, 1.4 + 0.55 * len(entries))
        axes = figure.add_subplot()
        positions = np.arange(len(entries))[::-1]
        for position, (name, effect, low, high, marker) in zip(positions, entries):
            color = "#C44E52" if marker == "D" else "#4C72B0"
            axes.errorbar([effect], [position], xerr=[[effect - low], [high - effect]], fmt=marker, color=color, capsize=4, markersize=7)
        axes.axvline(0, color="#888888", linewidth=1, linestyle="--")
        axes.set_yticks(positions, [entry[0] for entry in entries])
        axes.set_xlabel("alpha × SD(Δℓ): log odds ratio per SD, 95% CI")
    path = target / "forest.png"
    figure.savefig(path, dpi=DPI, format="png")
    return {"path": path, "title": "Forest plot", "caption": "Each dataset's effect per SD of Δℓ with its 95% CI, and the pooled estimates (red diamonds)."}
