"""The report words what results.json decides about alpha: bias or association, approximate CIs
under 50 prompts, the validity section (sensitivity, length change, ties, Holm)."""

from __future__ import annotations

from tests.stats.builders import random_pairwise
from typicality.audit_folder import load_results, save_analysis, save_data, save_results
from typicality.pipeline import write_simulation
from typicality.report import render_report
from typicality.stats import analyze_with_design, simulate


def audit_folder(tmp_path, data, scores, **options):
    folder = tmp_path / "audit"
    if hasattr(scores, "card"):
        write_simulation(data, scores, folder)
    else:
        from typicality.audit_folder import SCORES_FILE, save_scores
        from typicality.domain import ScoreResult

        save_data(data, folder)
        save_scores(ScoreResult(scores, {"model": "test-model", "fingerprint": "test-model"}), folder / SCORES_FILE)
    results, design = analyze_with_design(data, scores, **options)
    save_analysis(results, design, folder)
    return folder, results


def test_pairwise_data_is_worded_as_an_association(tmp_path):
    data, scores = random_pairwise(300, seed=3)
    folder, results = audit_folder(tmp_path, data, scores, change_draws=20)
    assert results.interpretation.kind == "association"
    text = render_report(folder).markdown.read_text(encoding="utf-8")
    headline = text.split("## Headline", 1)[1].split("\n## ", 1)[0]
    assert "The association between typicality and preference, alpha (an association, not a bias estimate: no quality rating is controlled" in headline
    assert "typicality-bias estimate" not in headline
    section = text.split("## What alpha means, and how far to trust it", 1)[1].split("\n## ", 1)[0]
    assert "alpha is an association, not a bias estimate" in section
    assert f"risk ratio of {results.sensitivity.e_value:.2f} each" in section
    change = results.headline.alpha_change
    assert f"changes alpha by {change.estimate:+.3f} (cluster-bootstrap 95% CI" in section
    assert "Holm-adjusted" in section
    assert "| p (Holm) |" in text


def test_rated_data_is_worded_as_a_bias_estimate_with_approximate_cis_under_50_prompts(tmp_path):
    data, scores = simulate(0.5, 40, 4, seed=2, rating_levels=5)
    folder, results = audit_folder(tmp_path, data, scores, change_draws=20)
    main = results.headline_estimate
    assert results.interpretation.kind == "bias" and main.n_clusters < 50
    text = render_report(folder).markdown.read_text(encoding="utf-8")
    headline = text.split("## Headline", 1)[1].split("\n## ", 1)[0]
    assert "The typicality-bias estimate alpha, controlled for correctness" in headline
    assert f"approximate 95% CI (only {main.n_clusters} prompts; t with {main.n_clusters - 1} df)" in headline
    section = text.split("## What alpha means, and how far to trust it", 1)[1].split("\n## ", 1)[0]
    assert "Ties:" in section and "alpha, ties kept (Rao-Kupper)" in section
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="validity"' in html and "controlled for correctness" in html


def test_a_hand_edited_interpretation_is_followed(tmp_path):
    data, scores = simulate(0.5, 120, 4, seed=1)
    folder, results = audit_folder(tmp_path, data, scores, change_draws=0)
    stored = load_results(folder)
    assert stored.interpretation.kind == "bias"
    save_results(stored.replace(interpretation=stored.interpretation.replace(kind="association", statement="Said by hand.")), folder)
    text = render_report(folder).markdown.read_text(encoding="utf-8")
    assert "The association between typicality and preference, alpha" in text and "Said by hand." in text
    # At 120 prompts the CI is worded plainly.
    assert "approximate 95% CI" not in text.split("## Headline", 1)[1].split("\n## ", 1)[0]
