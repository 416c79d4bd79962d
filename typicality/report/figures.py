"""The report's figures, drawn with seaborn on the non-interactive Agg canvas and saved as PNG.

Figures are built on `matplotlib.figure.Figure` directly (no pyplot), so drawing them never
touches a notebook's backend or leaks open figures. Nothing here is estimated: the fitted curve
is drawn from the alpha and CI that results.json reports; binning is only for display.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.special import expit
from statsmodels.stats.proportion import proportion_confint

from typicality.audit_folder import INFLUENCE_FILE, AuditFolder
from typicality.errors import require_type
from typicality.formatting import fit_label, fmt_slice, number
from typicality.report.published import PUBLISHED_ALPHAS
from typicality.report.reading import decisive_pairs
from typicality.results import Estimate
from typicality.safe_text import printable
from typicality.stats.pair_design import select_slice

DPI = 150
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval
FIGURE_NAMES = ("delta_distribution", "preference_rate", "forest", "length_confound", "typicality_by_rating")
MAX_RATING_LEVELS = 10  # more distinct values than this: a continuous score, drawn by quintile
DELTA_LABEL = "Δ mean log-likelihood per token (nats)"


@dataclass
class ReportFigure:
    """One figure of the report: drawn (`figure`, and `path` once saved) or not, with the reason."""

    name: str
    title: str
    caption: str
    figure: Figure | None = None
    path: Path | None = None
    reason: str | None = None  # why it was not drawn

    def _repr_png_(self) -> bytes | None:
        """Jupyter shows a drawn figure as its PNG (no pyplot, no bytes by hand); one not drawn shows its repr."""
        if self.figure is None:
            return None
        png = io.BytesIO()
        self.figure.savefig(png, format="png", dpi=110)
        return png.getvalue()

    def __repr__(self) -> str:
        return f"{self.title}: " + (f"drawn{f' ({self.path.name})' if self.path else ''}" if self.figure is not None else f"not drawn ({self.reason})")


@contextlib.contextmanager
def _style():
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        yield


def plain_label(text) -> str:
    """A name from the data as literal figure text: control characters visible, `$` never opening matplotlib's mathtext."""
    return printable(text).replace("$", r"\$")


def _new_figure(width: float = 7.0, height: float = 4.0) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def alpha_interval(estimate: Estimate) -> tuple[float, float] | None:
    """The reported 95% CI of alpha; alpha ± 1.96 SE when the CI itself was not recorded."""
    low, high = number(estimate.ci_low), number(estimate.ci_high)
    if low is not None and high is not None:
        return low, high
    alpha, se = number(estimate.alpha), number(estimate.se)
    if alpha is not None and se is not None:
        return alpha - Z95 * se, alpha + Z95 * se
    return None


# --- Δ typicality, preferred minus rejected -------------------------------------------------


def plot_delta_distribution(delta_preferred: pd.Series) -> Figure:
    """Histogram of Δ typicality, preferred minus rejected; mass right of 0 agrees with typicality."""
    with _style():
        figure = _new_figure()
        ax = figure.add_subplot()
        values = pd.Series(delta_preferred, dtype=float).dropna()
        sns.histplot(x=values, bins="auto", kde=len(values) >= 20, ax=ax, color="#4C72B0", edgecolor="white")
        ax.axvline(0.0, color="black", linewidth=1, linestyle="--")
        ax.set_xlabel(f"{DELTA_LABEL}, preferred − rejected")
        ax.set_ylabel("pairs")
        ax.text(0.99, 0.97, "preferred is more typical →", transform=ax.transAxes, ha="right", va="top", fontsize=8)
        ax.text(0.01, 0.97, "← rejected is more typical", transform=ax.transAxes, ha="left", va="top", fontsize=8)
    return figure


# --- Empirical preference rate with the fitted curve ----------------------------------------


def n_bins_for(n_pairs: int) -> int:
    """About 25 pairs per bin, between 3 and 12 bins."""
    return int(min(12, max(3, n_pairs // 25)))


def preference_rate_bins(delta: pd.Series, label: pd.Series, n_bins: int) -> pd.DataFrame:
    """Quantile bins of Δ (first minus second): mean Δ, share with the first preferred, count, Wilson 95% CI."""
    frame = pd.DataFrame({"delta": np.asarray(delta, dtype=float), "label": np.asarray(label, dtype=float)})
    frame["bin"] = pd.qcut(frame["delta"], q=n_bins, duplicates="drop")
    grouped = frame.groupby("bin", observed=True)
    table = pd.DataFrame(
        {
            "delta": grouped["delta"].mean(),
            "rate": grouped["label"].mean(),
            "n": grouped["label"].size(),
            "wins": grouped["label"].sum(),
        }
    ).reset_index(drop=True)
    low, high = proportion_confint(table["wins"], table["n"], alpha=0.05, method="wilson")
    table["ci_low"], table["ci_high"] = np.asarray(low), np.asarray(high)
    return table.drop(columns="wins")


def fitted_curve(alpha: float, interval: tuple[float, float] | None, delta: np.ndarray) -> pd.DataFrame:
    """P(first preferred) = sigmoid(alpha · Δ), with the band the CI of alpha spans at each Δ."""
    delta = np.asarray(delta, dtype=float)
    curve = pd.DataFrame({"delta": delta, "p": expit(alpha * delta)})
    if interval is not None:
        ends = np.vstack([expit(interval[0] * delta), expit(interval[1] * delta)])
        curve["p_low"], curve["p_high"] = ends.min(axis=0), ends.max(axis=0)
    return curve


def plot_preference_rate(pairs: pd.DataFrame, column: str, estimate: Estimate | None) -> Figure:
    """Share of pairs whose first response is preferred, in bins of Δ, with the headline fit's curve."""
    decisive = decisive_pairs(pairs, column)
    bins = preference_rate_bins(decisive[column], decisive["label"], n_bins_for(len(decisive)))
    with _style():
        figure = _new_figure()
        ax = figure.add_subplot()
        alpha = number(estimate.alpha) if estimate is not None and estimate.fitted else None
        if alpha is not None:
            grid = np.linspace(decisive[column].min(), decisive[column].max(), 200)
            curve = fitted_curve(alpha, alpha_interval(estimate), grid)
            if "p_low" in curve:
                ax.fill_between(curve["delta"], curve["p_low"], curve["p_high"], color="#DD8452", alpha=0.25, linewidth=0, label="95% CI of alpha")
            ax.plot(curve["delta"], curve["p"], color="#DD8452", linewidth=2, label=f"fitted: sigmoid({alpha:.3f} · Δ)")
        ax.errorbar(
            bins["delta"],
            bins["rate"],
            # Clipped at 0: when a bin's rate is exactly 0 or 1, the Wilson bound can differ from it by rounding.
            yerr=np.clip([bins["rate"] - bins["ci_low"], bins["ci_high"] - bins["rate"]], 0, None),
            fmt="o",
            color="#4C72B0",
            capsize=3,
            label="observed share per bin (Wilson 95% CI)",
        )
        ax.axhline(0.5, color="grey", linewidth=1, linestyle=":")
        ax.axvline(0.0, color="grey", linewidth=1, linestyle=":")
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"{DELTA_LABEL}, first − second response (random orientation)")
        ax.set_ylabel("share with the first response preferred")
        ax.legend(loc="upper left", fontsize=8, frameon=True)
    return figure


# --- Forest plot of alpha ------------------------------------------------------------------


def forest_rows(estimates: Sequence[Estimate]) -> pd.DataFrame:
    """One row per fit that has an alpha, then the paper's published alphas (mean typicality) as reference rows."""
    rows = []
    for estimate in estimates:
        if not estimate.fitted:
            continue
        interval = alpha_interval(estimate)
        rows.append(
            {
                "typicality": estimate.typicality,
                "label": plain_label(f"{fmt_slice(estimate.slice)} · {' + '.join(estimate.controls) or 'no controls'}"),
                "alpha": estimate.alpha,
                "ci_low": interval[0] if interval else np.nan,
                "ci_high": interval[1] if interval else np.nan,
                "source": "this audit",
            }
        )
    for published in PUBLISHED_ALPHAS:
        rows.append(
            {
                "typicality": "mean_logprob",
                "label": f"paper: {published.base_model}, HelpSteer {published.slice}",
                "alpha": published.alpha,
                "ci_low": published.alpha - Z95 * published.se,
                "ci_high": published.alpha + Z95 * published.se,
                "source": "published",
            }
        )
    return pd.DataFrame(rows, columns=["typicality", "label", "alpha", "ci_low", "ci_high", "source"])


def plot_forest(estimates: Sequence[Estimate]) -> Figure:
    """Alpha with its 95% CI for every fit, one panel per typicality definition (their scales differ);
    the published values sit in the mean-typicality panel as grey reference marks."""
    rows = forest_rows(estimates)
    colors = {"this audit": "#4C72B0", "published": "#8C8C8C"}
    markers = {"this audit": "o", "published": "D"}
    labels = {"this audit": "this audit (95% CI)", "published": "published, Zhang et al. 2025 (±1.96 SE)"}
    panels = list(dict.fromkeys(sorted(rows["typicality"], key=lambda name: (name != "mean_logprob", name))))
    sizes = [int((rows["typicality"] == name).sum()) for name in panels]
    with _style():
        figure = _new_figure(height=1.4 + 0.32 * len(rows) + 0.55 * len(panels))
        axes = figure.subplots(len(panels), 1, squeeze=False, height_ratios=[size + 1.2 for size in sizes])[:, 0]
        for ax, name in zip(axes, panels):
            part_rows = rows[rows["typicality"] == name].reset_index(drop=True)
            positions = np.arange(len(part_rows))[::-1]
            for source in ("this audit", "published"):
                mask = (part_rows["source"] == source).to_numpy()
                if not mask.any():
                    continue
                part, y = part_rows[mask], positions[mask]
                # Segments from the reported ends, not errorbar's ± widths: a CI need not be centred on alpha.
                ax.hlines(y, part["ci_low"], part["ci_high"], color=colors[source], linewidth=1.5)
                for end in ("ci_low", "ci_high"):
                    ax.plot(part[end], y, "|", color=colors[source], markersize=7)
                ax.plot(part["alpha"], y, markers[source], color=colors[source], markersize=7, linestyle="none", label=labels[source])
            n_audit = int((part_rows["source"] == "this audit").sum())
            if 0 < n_audit < len(part_rows):
                ax.axhline(positions[n_audit - 1] - 0.5, color="#8C8C8C", linewidth=0.8)
            ax.axvline(0.0, color="black", linewidth=1, linestyle="--")
            ax.set_yticks(positions, part_rows["label"], fontsize=8)
            ax.set_ylim(-0.7, len(part_rows) - 0.3)
            ax.set_title(f"typicality: {name}", fontsize=9, loc="left")
            ax.set_xlabel("alpha (log-odds per unit of Δ typicality)", fontsize=8)
        handles = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
        figure.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return figure


# --- Typicality against length --------------------------------------------------------------


def plot_length_confound(scores: pd.DataFrame) -> Figure:
    """Each response's mean log-likelihood against its token count (log scale), with a lowess trend."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    frame = scores[["n_tokens", "mean_logprob"]].apply(pd.to_numeric, errors="coerce")
    truncated = scores["truncated"].fillna(False).astype(bool) if "truncated" in scores else pd.Series(False, index=scores.index)
    frame["response"] = np.where(truncated, "truncated", "complete")
    frame = frame[(frame["n_tokens"] > 0) & frame["mean_logprob"].notna()]
    with _style():
        figure = _new_figure()
        ax = figure.add_subplot()
        hue = "response" if (frame["response"] == "truncated").any() else None
        palette = {"complete": "#4C72B0", "truncated": "#DD8452"} if hue else None
        sns.scatterplot(data=frame, x="n_tokens", y="mean_logprob", hue=hue, palette=palette, ax=ax, s=14, alpha=0.5, linewidth=0, color="#4C72B0")
        ax.set_xscale("log")
        if frame["n_tokens"].nunique() >= 5:
            trend = lowess(frame["mean_logprob"], np.log(frame["n_tokens"]), frac=0.6, return_sorted=True)
            ax.plot(np.exp(trend[:, 0]), trend[:, 1], color="#C44E52", linewidth=2, label="lowess trend")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower right", fontsize=8, frameon=True)
        ax.set_xlabel("response length (tokens, log scale)")
        ax.set_ylabel("mean log-likelihood per token (nats)")
    return figure


# --- Typicality by rating level -------------------------------------------------------------


def typicality_by_rating_table(scores: pd.DataFrame, responses: pd.DataFrame, rating_columns: list[str]) -> pd.DataFrame:
    """Long table: rating name, rating level and mean_logprob, one row per scored, rated response."""
    joined = responses[["response_id", *rating_columns]].merge(scores[["response_id", "mean_logprob"]], on="response_id")
    long = joined.melt(id_vars=["response_id", "mean_logprob"], value_vars=rating_columns, var_name="rating", value_name="level")
    long = long.dropna(subset=["level", "mean_logprob"]).astype({"mean_logprob": float, "level": float})
    long["level"] = long["level"] + 0.0  # -0.0 + 0.0 is 0.0: a rounded -0 must not become its own level
    # A continuous score is not a rating scale: drawn by quintile (labelled by the quintile's
    # median), not as thousands of one-response levels (which also took matplotlib minutes).
    for name in rating_columns:
        rows = long["rating"] == name
        if long.loc[rows, "level"].nunique() > MAX_RATING_LEVELS:
            quintile = pd.qcut(long.loc[rows, "level"], 5, labels=False, duplicates="drop")
            long.loc[rows, "level"] = long.loc[rows, "level"].groupby(quintile).transform("median").round(3)
    return long


def plot_typicality_by_rating(scores: pd.DataFrame, responses: pd.DataFrame, rating_columns: list[str]) -> Figure:
    """Mean typicality (± 1 SE) at each level of each rating, one panel per rating."""
    long = typicality_by_rating_table(scores, responses, rating_columns)
    ratings = [name for name in rating_columns if long.loc[long["rating"] == name, "level"].nunique() >= 2]
    with _style():
        figure = _new_figure(width=min(3.0 * max(len(ratings), 1) + 1, 14), height=3.4)
        axes = figure.subplots(1, max(len(ratings), 1), sharey=True, squeeze=False)[0]
        for ax, name in zip(axes, ratings):
            part = long[long["rating"] == name].copy()
            part["level"] = part["level"].map(lambda level: f"{level:g}")
            order = sorted(part["level"].unique(), key=float)
            counts = part["level"].value_counts()
            sns.pointplot(data=part, x="level", y="mean_logprob", order=order, errorbar="se", ax=ax, color="#4C72B0", capsize=0.15)
            ax.set_xticks(range(len(order)), [f"{level}\nn={counts[level]}" for level in order])
            ax.set_title(plain_label(name))
            ax.set_xlabel("rating")
            ax.set_ylabel("mean log-likelihood per token (nats)")
    return figure


# --- All figures for a report ---------------------------------------------------------------


def draw_figures(audit: AuditFolder, out_dir: str | Path | None = None) -> list[ReportFigure]:
    """Draw every figure the audit's files allow; save PNGs in `out_dir` when given.

    A figure that cannot be drawn carries the reason instead (and any stale PNG of that name
    from an earlier render is removed, so the folder never shows a figure the report does not).
    """
    require_type("draw_figures", "audit", audit, AuditFolder, "an AuditFolder", "read the folder with typicality.read_audit(path)")
    out_dir = Path(out_dir) if out_dir is not None else None
    figures = [
        _delta_distribution(audit),
        _preference_rate(audit),
        _forest(audit),
        _length_confound(audit),
        _typicality_by_rating(audit),
        *influence_figures(audit),  # with influence.json
        *group_figures(audit),  # with --by
    ]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in figures:
            target = out_dir / f"{item.name}.png"
            if item.figure is None:
                target.unlink(missing_ok=True)
                continue
            with _style():
                item.figure.savefig(target, dpi=DPI, format="png")
            item.path = target
    return figures


MEAN_DELTA = "delta_mean_logprob"  # the definition the agreement rate and the paper use


def _mean_delta(audit: AuditFolder) -> tuple[str | None, str | None]:
    """The Δ mean-typicality column of the pairs, or why there is none."""
    if audit.pairs is None:
        return None, f"pairs.parquet is {audit.missing.get('pairs.parquet', 'not available')}"
    if decisive_pairs(audit.pairs.frame, MEAN_DELTA).empty:
        return None, "no pair has a winner and a Δ typicality"
    return MEAN_DELTA, None


def _delta_distribution(audit: AuditFolder) -> ReportFigure:
    item = ReportFigure(
        "delta_distribution",
        "Δ typicality, preferred minus rejected",
        "Per pair, the preferred response's mean per-token log-likelihood minus the rejected one's "
        "(ties left out). Mass right of the dashed line: the annotators preferred the more typical response.",
    )
    column, item.reason = _mean_delta(audit)
    if column:
        item.figure = plot_delta_distribution(decisive_pairs(audit.pairs.frame, column)["delta_preferred"])
    return item


def _preference_rate(audit: AuditFolder) -> ReportFigure:
    fit = audit.results.curve_estimate
    item = ReportFigure("preference_rate", "Preference rate by Δ typicality, with the fitted curve", "")
    column, item.reason = _mean_delta(audit)
    if not column:
        return item
    # The slice's pairs, by the stats stage's own definition of slice membership.
    pairs = select_slice(audit.pairs, fit.slice) if fit is not None else audit.pairs.frame
    if decisive_pairs(pairs, column).empty:
        item.reason = f"no decided pair in the slice {fit.slice}" if fit is not None else "no decided pair"
        return item
    where = f"the {fit.slice} slice" if fit is not None and fit.slice != "all" else "all pairs"
    item.caption = (
        f"Points: over {where}, the share of pairs whose first response (pairs are oriented at random) was preferred, "
        "in quantile bins of Δ typicality, with Wilson 95% intervals; ties left out. "
    )
    if fit is None:
        item.caption += "No fitted alpha of mean typicality without controls is available, so no curve is drawn."
    else:
        item.caption += (
            f"Curve: sigmoid(alpha · Δ) from the reported alpha of the no-controls mean fit ({fit_label(fit)}), "
            "no intercept as in the fit; band: the same curve at the ends of alpha's reported 95% CI "
            "(alpha ± 1.96 SE where the CI is not recorded)."
        )
    item.figure = plot_preference_rate(pairs, column, fit)
    return item


def _forest(audit: AuditFolder) -> ReportFigure:
    estimates = audit.results.estimates
    fitted = [e for e in estimates if e.fitted]
    item = ReportFigure(
        "forest",
        "Alpha across slices, controls and typicality definitions",
        "Each fit's alpha with its reported 95% CI (blue), labelled by slice and controls, one panel per typicality "
        "definition: alphas of sum typicality are per nat of the summed log-likelihood, a much smaller unit. Grey: the "
        "published alphas of Zhang et al. 2025 (mean typicality, HelpSteer, the much larger Llama 3.1 405B and GLM 4.5 "
        "base models; ±1.96 SE).",
    )
    if len(fitted) < len(estimates):
        item.caption += f" {len(estimates) - len(fitted)} fit(s) without an alpha are listed in the table, not drawn."
    if not fitted:
        item.caption += " This audit has no fitted alpha, so only the published values are drawn."
    item.figure = plot_forest(estimates)
    return item


def _length_confound(audit: AuditFolder) -> ReportFigure:
    item = ReportFigure(
        "length_confound",
        "Typicality against length",
        "Each scored response's mean per-token log-likelihood against its length in tokens. Later tokens are "
        "easier to predict, so mean typicality tends to rise with length: the reason alpha is also fitted "
        "with Δ log length as a control.",
    )
    scores = audit.scores.table if audit.scores is not None else None
    if scores is None:
        item.reason = f"scores.parquet is {audit.missing.get('scores.parquet', 'not available')}"
    elif not {"n_tokens", "mean_logprob"} <= set(scores.columns):
        item.reason = "scores.parquet lacks n_tokens or mean_logprob"
    elif pd.to_numeric(scores["mean_logprob"], errors="coerce").notna().sum() < 2:
        item.reason = "fewer than two responses have a score"
    else:
        item.figure = plot_length_confound(scores)
    return item


def _typicality_by_rating(audit: AuditFolder) -> ReportFigure:
    item = ReportFigure(
        "typicality_by_rating",
        "Typicality by rating level",
        "Mean per-token log-likelihood of the responses at each level of each rating (points: means; bars: ±1 standard error).",
    )
    data, scores = audit.data, (audit.scores.table if audit.scores is not None else None)
    ratings = [name for name in (data.rating_columns if data else []) if name in data.responses.columns]
    if data is None:
        item.reason = f"the saved dataset is not available (dataset.json: {audit.missing.get('dataset.json', 'not available')})"
    elif not ratings:
        item.reason = "the dataset has no rating columns (pairwise judgements only)"
    elif scores is None or not {"response_id", "mean_logprob"} <= set(scores.columns):
        item.reason = "scores.parquet is not available or lacks response_id/mean_logprob"
    else:
        long = typicality_by_rating_table(scores, data.responses, ratings)
        if not any(long.loc[long["rating"] == name, "level"].nunique() >= 2 for name in ratings):
            item.reason = "no rating has two or more levels among the scored responses"
        else:
            item.figure = plot_typicality_by_rating(scores, data.responses, ratings)
    return item


def group_figures(audit: AuditFolder) -> list:
    from typicality.report.groups import caterpillar_figure

    figure = caterpillar_figure(audit)
    return [] if figure is None else [figure]


def influence_figures(audit: AuditFolder) -> list:
    """The influence section's figure, for an audit with influence.json (none for an audit without influence)."""
    return [leave_one_prompt_out_figure(audit)] if audit.influence_summary is not None else []


def leave_one_prompt_out_figure(audit: AuditFolder):
    """The distribution of alpha with each prompt left out (influence.parquet), the full-data alpha marked."""
    item = ReportFigure(
        "leave_one_prompt_out",
        "Alpha with each prompt left out",
        "Each prompt's pairs left out in turn and the headline fit rerun: the distribution of the resulting alphas. "
        "Dashed: alpha on all prompts. A long tail means a few prompts carry the estimate.",
    )
    summary = audit.influence_summary
    table = audit.influence
    if summary is None:
        item.reason = "the folder has no influence.json (run `typicality influence` on it)"
        return item
    if not summary.available:
        item.reason = summary.reason
        return item
    if table is None or "level" not in table.columns:
        item.reason = f"{INFLUENCE_FILE} is {audit.missing.get(INFLUENCE_FILE, 'not available')}"
        return item
    values = pd.to_numeric(table.loc[table["level"] == "prompt", "alpha_without"], errors="coerce").dropna()
    if len(values) < 2:
        item.reason = "fewer than two prompts have a leave-one-out alpha"
        return item
    with _style():
        figure = _new_figure()
        ax = figure.add_subplot()
        sns.histplot(x=values, bins="auto", ax=ax, color="#4C72B0", edgecolor="white")
        ax.axvline(summary.alpha, color="black", linewidth=1, linestyle="--")
        ax.set_xlabel("alpha without the prompt")
        ax.set_ylabel("prompts")
    item.figure = figure
    return item
