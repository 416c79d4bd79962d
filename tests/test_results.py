"""The typed results (typicality/results.py): exact JSON round trips, strict reading, frozen sections, and the decisions they hold."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from typicality.audit_folder import RESULTS_FILE, load_influence_summary, load_results, save_results
from typicality.errors import TypicalityError
from typicality.results import AuditResults, Estimate, InfluenceSummary, is_quality_controlled
from typicality.stats import analyze, simulate

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(ROOT.glob("reports/*/results.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: path.parent.name)
def test_committed_results_round_trip_byte_for_byte(path):
    text = path.read_text(encoding="utf-8")
    stored = json.loads(text)
    typed = AuditResults.from_dict(stored)
    assert json.dumps({**typed.to_dict(), "format_version": stored["format_version"]}, indent=2) + "\n" == text
    influence = path.parent / "influence.json"
    if influence.exists():
        summary = load_influence_summary(influence)
        assert json.dumps({**summary.to_dict(), "format_version": stored["format_version"]}, indent=2) + "\n" == influence.read_text(encoding="utf-8")


def test_there_are_committed_results_to_check():
    assert len(COMMITTED) >= 6


@pytest.fixture(scope="module")
def rated_results():
    data, scores = simulate(0.5, 120, 3, seed=7, rating_levels=5)
    return analyze(data, scores, change_draws=10)


def test_every_optional_shape_round_trips(rated_results):
    """Ties, the alpha-change bootstrap, the ordinal fit, an unavailable sensitivity and the few-prompts note all survive JSON."""
    content = json.loads(json.dumps(rated_results.to_dict(), allow_nan=False))
    assert {"ties", "ordinal"} <= set(content) and content["headline"]["alpha_change"]["n_draws"] == 10
    assert AuditResults.from_dict(content).to_dict() == content
    tiny = analyze(*simulate(0.5, 3, 2, seed=5), change_draws=0).to_dict()
    assert tiny["sensitivity"]["available"] is False and "ci_note" in tiny["interpretation"]
    assert "n_draws" not in (tiny["headline"]["alpha_change"] or {})
    assert AuditResults.from_dict(json.loads(json.dumps(tiny))).to_dict() == tiny


def test_sections_are_frozen(rated_results):
    with pytest.raises(dataclasses.FrozenInstanceError):
        rated_results.headline_estimate.alpha = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        rated_results.interpretation = None
    assert isinstance(rated_results.estimates, tuple) and isinstance(rated_results.warnings, tuple)


def test_an_unknown_key_or_a_wrong_id_is_refused_with_the_fix(tmp_path, rated_results):
    save_results(rated_results, tmp_path)
    stored = json.loads((tmp_path / RESULTS_FILE).read_text())
    stored["sharpening"]["gamma_star"] = 1.0
    (tmp_path / RESULTS_FILE).write_text(json.dumps(stored))
    with pytest.raises(TypicalityError, match=r"Sharpening has unknown key\(s\) gamma_star.*re-run `typicality fit"):
        load_results(tmp_path)
    del stored["sharpening"]["gamma_star"], stored["sensitivity"]
    (tmp_path / RESULTS_FILE).write_text(json.dumps(stored))
    with pytest.raises(TypicalityError, match=r"AuditResults lacks sensitivity.*re-run `typicality fit"):
        load_results(tmp_path)
    with pytest.raises(TypicalityError, match="must list JSON objects"):
        AuditResults.from_dict({**rated_results.to_dict(), "estimates": [None]})
    with pytest.raises(TypicalityError, match="does not match its slice"):
        Estimate.from_dict({**rated_results.headline_estimate.to_dict(), "id": "all|mean_logprob|none"})


def test_the_decisions_read_from_the_results(rated_results):
    headline = rated_results.headline_estimate
    assert headline.id == rated_results.headline.estimate == "equal-correctness|mean_logprob|none"
    assert rated_results.length_controlled_estimate.controls == headline.controls + ["length"]
    assert rated_results.estimate("nope") is None and rated_results.estimate(None) is None
    # Quality control: the equal-correctness slice or the rating among the controls; data without a rating has nothing to control.
    adjusted, plain = rated_results.estimate("all|mean_logprob|correctness"), rated_results.estimate("all|mean_logprob|none")
    assert rated_results.is_quality_controlled(headline) and rated_results.is_quality_controlled(adjusted)
    assert not rated_results.is_quality_controlled(plain) and not rated_results.is_quality_controlled(None)
    assert is_quality_controlled(plain, None)
    assert rated_results.interpretation.is_bias_estimate
    frame = rated_results.to_frame()
    assert list(frame["id"]) == [e.id for e in rated_results.estimates] and "alpha = " in rated_results.summary()


def test_an_influence_summary_without_a_fit_keeps_only_its_reason():
    summary = InfluenceSummary(available=False, reason="no fitted headline")
    assert summary.to_dict() == {"available": False, "reason": "no fitted headline"}
    assert InfluenceSummary.from_dict(summary.to_dict()) == summary


def test_summary_and_terminal_word_numbers_as_the_report_does(rated_results, capsys):
    """One formatter module (typicality/formatting.py): summary(), the terminal and the report show the same strings."""
    from typicality.formatting import fmt_coef, fmt_interval, fmt_p_clause, fmt_percent
    from typicality.report.terminal import print_results

    headline = rated_results.headline_estimate
    alpha_words = f"alpha = {fmt_coef(headline.alpha)} (SE {fmt_coef(headline.se)}; 95% CI {fmt_interval(headline.ci_low, headline.ci_high)})"
    assert alpha_words in headline.summary() and alpha_words in rated_results.summary()
    assert f"p {fmt_p_clause(headline.p_value)}" in headline.summary()
    agreement = rated_results.agreement
    assert f"{fmt_percent(agreement.rate)} of {agreement.n_pairs} pairs" in agreement.summary()
    print_results(rated_results)
    printed = " ".join(capsys.readouterr().out.split())
    assert " ".join(agreement.summary().split()) in printed and " ".join(rated_results.ordinal.summary().split()) in printed
    assert fmt_coef(headline.alpha) in printed and fmt_interval(headline.ci_low, headline.ci_high) in printed


def test_summary_words_a_missing_number_instead_of_failing(rated_results):
    """A fitted row whose p-value or bootstrap interval is null (results.json after the finite guard) still summarises."""
    row = dataclasses.replace(rated_results.headline_estimate, p_value=None, ci_high=None, bootstrap={"se": 0.1, "n_draws": 10, "n_failed": 0})
    text = row.summary()
    assert "SE 0.100" in text  # the bootstrap row, with its missing interval
    assert "95% CI not available" in text and "p not available" in text
