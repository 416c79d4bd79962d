"""Figures: each is drawn from the folder's numbers, checked against the same numbers computed naively."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from typicality.audit_folder import PAIRS_FILE, SCORES_FILE, load_results, read_audit, save_results
from typicality.report.figures import (
    FIGURE_NAMES,
    ReportFigure,
    alpha_interval,
    draw_figures,
    fitted_curve,
    forest_rows,
    plot_preference_rate,
    preference_rate_bins,
    typicality_by_rating_table,
)
from typicality.report.published import PUBLISHED_ALPHAS
from typicality.results import Estimate


def fit(**numbers) -> Estimate:
    """A fitted estimate with these numbers (alpha, se, ci_low, ci_high, ...)."""
    return Estimate("all", "mean_logprob", [], fitted=True, **numbers)


def test_every_figure_is_drawn_and_saved_as_png(audit_dir):
    figures = draw_figures(read_audit(audit_dir), audit_dir / "figures")
    assert [item.name for item in figures][: len(FIGURE_NAMES)] == list(FIGURE_NAMES)
    for item in figures:
        if item.name not in FIGURE_NAMES:  # a figure of an optional extra (influence.parquet) the folder lacks
            assert item.reason and item.path is None and item.figure is None, item.name
            continue
        assert item.reason is None, item.reason
        assert item.path == audit_dir / "figures" / f"{item.name}.png"
        with Image.open(item.path) as image:
            assert image.format == "PNG" and image.width >= 600 and image.height >= 300
    assert sorted(path.name for path in (audit_dir / "figures").iterdir()) == sorted(f"{name}.png" for name in FIGURE_NAMES)


def test_drawing_leaves_no_pyplot_figures_open(audit_dir):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    draw_figures(read_audit(audit_dir))
    assert plt.get_fignums() == before


def test_pairwise_data_has_no_rating_figure_and_a_stale_one_is_removed(pairwise_dir):
    stale = pairwise_dir / "figures" / "typicality_by_rating.png"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    figures = {item.name: item for item in draw_figures(read_audit(pairwise_dir), pairwise_dir / "figures")}
    assert figures["typicality_by_rating"].reason == "the dataset has no rating columns (pairwise judgements only)"
    assert not stale.exists()
    assert all(figures[name].path is not None for name in FIGURE_NAMES if name != "typicality_by_rating")


def test_missing_files_give_reasons_instead_of_figures(audit_dir):
    (audit_dir / SCORES_FILE).unlink()
    (audit_dir / PAIRS_FILE).unlink()
    figures = {item.name: item for item in draw_figures(read_audit(audit_dir))}
    assert figures["delta_distribution"].reason == "pairs.parquet is absent"
    assert figures["preference_rate"].reason == "pairs.parquet is absent"
    assert figures["length_confound"].reason == "scores.parquet is absent"
    assert "scores.parquet" in figures["typicality_by_rating"].reason
    assert figures["forest"].figure is not None  # needs only results.json


def naive_wilson(wins: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_preference_rate_bins_match_a_naive_binning():
    rng = np.random.default_rng(3)
    delta = rng.normal(size=101)
    label = (rng.random(101) < 1 / (1 + np.exp(-delta))).astype(float)
    bins = preference_rate_bins(pd.Series(delta), pd.Series(label), 4)
    edges = np.quantile(delta, [0, 0.25, 0.5, 0.75, 1])
    assert bins["n"].sum() == 101 and len(bins) == 4
    for i, row in bins.iterrows():
        inside = (delta > edges[i]) & (delta <= edges[i + 1]) if i else (delta >= edges[0]) & (delta <= edges[1])
        assert row["n"] == inside.sum()
        assert row["delta"] == pytest.approx(delta[inside].mean())
        assert row["rate"] == pytest.approx(label[inside].mean())
        low, high = naive_wilson(int(label[inside].sum()), int(inside.sum()))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))


def test_fitted_curve_is_the_logistic_of_alpha_times_delta_with_the_ci_band():
    delta = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    curve = fitted_curve(0.8, (0.3, 1.3), delta)
    np.testing.assert_allclose(curve["p"], 1 / (1 + np.exp(-0.8 * delta)))
    # Right of zero the band runs from the low to the high alpha; left of zero it flips.
    np.testing.assert_allclose(curve["p_low"], [1 / (1 + np.exp(-1.3 * d)) if d < 0 else 1 / (1 + np.exp(-0.3 * d)) for d in delta])
    np.testing.assert_allclose(curve["p_high"], [1 / (1 + np.exp(-0.3 * d)) if d < 0 else 1 / (1 + np.exp(-1.3 * d)) for d in delta])
    assert "p_low" not in fitted_curve(0.8, None, delta)


def test_alpha_interval_prefers_the_reported_ci_then_falls_back_to_the_se():
    assert alpha_interval(fit(alpha=1.0, se=0.5, ci_low=0.1, ci_high=1.9)) == (0.1, 1.9)
    assert alpha_interval(fit(alpha=1.0, se=0.5, ci_low=None)) == pytest.approx((1 - 1.96 * 0.5, 1 + 1.96 * 0.5), abs=1e-4)
    assert alpha_interval(fit(alpha=None, se=0.5)) is None


def test_the_drawn_curve_uses_the_alpha_results_json_names_for_it(audit_dir):
    audit = read_audit(audit_dir)
    curve = audit.results.curve_estimate
    assert curve.controls == [] and curve.typicality == "mean_logprob" and curve.fitted
    figure = plot_preference_rate(audit.pairs.frame, "delta_mean_logprob", curve)
    (line,) = [line for line in figure.axes[0].lines if line.get_label().startswith("fitted")]
    x, y = line.get_data()
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-curve.alpha * np.asarray(x))))
    assert x.min() == pytest.approx(audit.pairs.frame["delta_mean_logprob"].min())


def test_forest_rows_are_the_fits_with_an_alpha_then_the_published_values(audit_dir):
    results = read_audit(audit_dir).results
    rows = forest_rows(results.estimates)
    fitted = [e for e in results.estimates if e.alpha is not None]
    audit_rows = rows[rows["source"] == "this audit"]
    assert audit_rows["alpha"].tolist() == [e.alpha for e in fitted]
    assert audit_rows["ci_low"].tolist() == [e.ci_low for e in fitted]
    published = rows[rows["source"] == "published"]
    assert published["alpha"].tolist() == [p.alpha for p in PUBLISHED_ALPHAS]
    np.testing.assert_allclose(published["ci_high"] - published["alpha"], [1.959963984540054 * p.se for p in PUBLISHED_ALPHAS])


def test_published_table_matches_method_md():
    """The module's table against the repository's docs/method.md, parsed from its Markdown table."""
    method = (Path(__file__).resolve().parents[2] / "docs" / "method.md").read_text(encoding="utf-8")
    parsed = []
    for line in method.splitlines():
        match = re.match(
            r"\|\s*(Llama 3\.1 405B Base|GLM 4\.5 Base)\s*\|\s*([a-z "
            r"]+?)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*\+([\d.]+)\s*\|\s*([\d,]+)\s*\|",
            line,
        )
        if match:
            model, slice_, alpha, se, odds, win, pairs = match.groups()
            parsed.append((model, slice_, float(alpha), float(se), float(odds), float(win), int(pairs.replace(",", ""))))
    assert parsed == [(p.base_model, p.slice, p.alpha, p.se, p.odds_ratio_per_sd, p.win_prob_change, p.n_pairs) for p in PUBLISHED_ALPHAS]


def test_typicality_by_rating_joins_scores_to_ratings_by_response(audit_dir):
    audit = read_audit(audit_dir)
    scores = audit.scores.table
    long = typicality_by_rating_table(scores, audit.data.responses, ["helpfulness", "correctness"])
    assert len(long) == 2 * len(scores)
    means = long[long["rating"] == "helpfulness"].groupby("level")["mean_logprob"].mean()
    responses = audit.data.responses.set_index("response_id")
    for level, value in means.items():
        ids = responses.index[responses["helpfulness"] == level]
        assert value == pytest.approx(scores.set_index("response_id").loc[ids, "mean_logprob"].mean())
    assert "-0" not in {f"{level:g}" for level in long["level"]}


def test_the_curve_and_its_points_come_from_the_slice_results_json_names(audit_dir):
    """When results.json names an equal-correctness fit for the curve, only that slice's pairs are binned."""
    results = load_results(audit_dir)
    equal = results.estimates[0]
    assert equal.slice == "equal-correctness" and equal.controls == [] and not equal.fitted
    equal = equal.replace(fitted=True, reason=None, alpha=0.7, se=0.3, ci_low=0.1, ci_high=1.3)
    save_results(results.replace(estimates=(equal, *results.estimates[1:]), headline=results.headline.replace(curve=equal.id)), audit_dir)
    figures = {item.name: item for item in draw_figures(read_audit(audit_dir))}
    item = figures["preference_rate"]
    assert "over the equal-correctness slice" in item.caption and "(equal-correctness · mean_logprob · no controls)" in item.caption
    # The slice by hand: pairs whose two responses have the same correctness rating.
    pairs = pd.read_parquet(audit_dir / PAIRS_FILE)
    in_slice = pairs[pairs["correctness_a"] == pairs["correctness_b"]]
    assert len(in_slice) == equal.n_pairs == 8
    expected = preference_rate_bins(in_slice["delta_mean_logprob"], in_slice["label"], 3)
    (points,) = [line for line in item.figure.axes[0].lines if line.get_marker() == "o"]
    np.testing.assert_allclose(np.asarray(points.get_xdata(), dtype=float), expected["delta"].to_numpy())
    np.testing.assert_allclose(np.asarray(points.get_ydata(), dtype=float), expected["rate"].to_numpy())
    (curve,) = [line for line in item.figure.axes[0].lines if line.get_label().startswith("fitted")]
    np.testing.assert_allclose(curve.get_ydata(), 1 / (1 + np.exp(-0.7 * np.asarray(curve.get_xdata()))))


def test_without_a_curve_fit_named_the_points_are_drawn_alone(audit_dir):
    results = load_results(audit_dir)
    save_results(results.replace(headline=results.headline.replace(curve=None)), audit_dir)
    item = {item.name: item for item in draw_figures(read_audit(audit_dir))}["preference_rate"]
    assert "over all pairs" in item.caption
    assert item.caption.endswith("No fitted alpha of mean typicality without controls is available, so no curve is drawn.")
    assert not [line for line in item.figure.axes[0].lines if line.get_label().startswith("fitted")]


def test_preference_rate_plot_survives_bins_that_are_all_wins_or_all_losses():
    """A bin whose rate is exactly 0 or 1 has a Wilson bound equal to it up to rounding; the error bar must not go negative."""
    delta = [float(i) for i in range(-20, 20)]
    ids = [f"r{i}" for i in range(len(delta))]
    pairs = pd.DataFrame({"delta_mean_logprob": delta, "label": [0.0 if d < 0 else 1.0 for d in delta], "response_a": ids, "response_b": ids[::-1]})
    figure = plot_preference_rate(pairs, "delta_mean_logprob", fit(alpha=2.0, se=0.5, ci_low=1.0, ci_high=3.0))
    assert figure.axes


def test_a_continuous_rating_is_drawn_by_quintile():
    """A score with thousands of distinct values gets five levels (quintile medians), each the mean of its fifth."""
    from typicality.report.figures import typicality_by_rating_table

    rng = np.random.default_rng(0)
    responses = pd.DataFrame({"response_id": [f"r{i}" for i in range(1000)], "score": rng.normal(size=1000), "stars": rng.integers(0, 5, 1000).astype(float)})
    scores = pd.DataFrame({"response_id": responses["response_id"], "mean_logprob": rng.normal(-2, 0.5, 1000)})
    long = typicality_by_rating_table(scores, responses, ["score", "stars"])
    assert long.groupby("rating")["level"].nunique().to_dict() == {"score": 5, "stars": 5}
    by_hand = responses.assign(fifth=pd.qcut(responses["score"], 5, labels=False), mean_logprob=scores["mean_logprob"])
    drawn = long[long["rating"] == "score"].groupby("level")["mean_logprob"].mean().to_numpy()
    assert np.allclose(drawn, by_hand.groupby("fifth")["mean_logprob"].mean().to_numpy())
    assert (long.loc[long["rating"] == "stars", "level"].to_numpy() == responses["stars"].to_numpy()).all()  # a rating scale is kept as it is


def test_a_report_figure_shows_as_its_png_in_jupyter(audit_dir):
    import io

    figures = draw_figures(read_audit(audit_dir))
    drawn = next(item for item in figures if item.figure is not None)
    with Image.open(io.BytesIO(drawn._repr_png_())) as image:
        width, height = drawn.figure.get_size_inches() * 110
        assert image.format == "PNG" and abs(image.width - width) <= 1 and abs(image.height - height) <= 1
    missing = ReportFigure("forest", "Alpha across slices", "", reason="no fitted estimate")
    assert missing._repr_png_() is None and repr(missing) == "Alpha across slices: not drawn (no fitted estimate)"
