"""The typed results (typicality/results.py): exact JSON round trips, strict reading, frozen sections, and the decisions they hold."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from typicality.audit_folder import (
    PAIR_DESIGN_KEY,
    PAIRS_FILE,
    RESULTS_FILE,
    AuditFolder,
    load_influence_summary,
    load_pairs,
    load_results,
    read_audit,
    save_results,
)
from typicality.errors import TypicalityError
from typicality.results import AuditResults, Estimate, InfluenceSummary, PairAccounting, ScoreCard, is_quality_controlled
from typicality.stats import analyze, simulate
from typicality.stats.pairwise_logit import PairwiseLogit, PairwiseSpec

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(ROOT.glob("reports/*/results.json"))
COMMITTED_CARDS = sorted(ROOT.glob("reports/*/scores.card.json"))
COMMITTED_DATASETS = sorted(ROOT.glob("reports/*/dataset.json"))


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
    assert len(COMMITTED) >= 6 and len(COMMITTED_CARDS) >= 6 and len(COMMITTED_DATASETS) >= 6


@pytest.mark.parametrize("path", COMMITTED_CARDS, ids=lambda path: path.parent.name)
def test_committed_score_cards_round_trip_byte_for_byte(path):
    """scores.card.json through the typed card and back (sorted keys, as the scorer writes it); results.json carries the same card."""
    text = path.read_text(encoding="utf-8")
    card = ScoreCard.from_dict(json.loads(text))
    assert json.dumps(card.to_dict(), indent=2, sort_keys=True) + "\n" == text
    assert load_results(path.parent).model == card  # the same values, whatever the order each file keeps


@pytest.mark.parametrize("path", COMMITTED_DATASETS, ids=lambda path: path.parent.name)
def test_committed_dataset_json_and_pair_accounting_round_trip_byte_for_byte(path):
    """dataset.json as written (a plain mapping, older format versions included) and as results.json records it;
    pairs.parquet's design metadata through the typed `PairAccounting` and back, equal to results.json's `pairs`."""
    text = path.read_text(encoding="utf-8")
    stored = json.loads(text)
    assert json.dumps(stored, indent=2) + "\n" == text
    results = load_results(path.parent)
    assert results.dataset.accounting == stored["accounting"] and results.dataset.provenance == stored["provenance"]
    pairs = path.parent / PAIRS_FILE
    if pairs.exists():
        design = load_pairs(pairs)
        assert isinstance(design.accounting, PairAccounting)
        assert json.dumps(design.settings()).encode() == pq.read_schema(pairs).metadata[PAIR_DESIGN_KEY]
        assert design.accounting == results.pairs


COMMITTED_GROUPS = [path for path in COMMITTED if "groups" in json.loads(path.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path", COMMITTED_GROUPS, ids=lambda path: path.parent.name)
def test_committed_groups_count_every_headline_pair_once(path):
    """results.json `groups` (--by): the groups' pairs, with the pairs without a value, are the headline's pairs."""
    results = load_results(path.parent)
    groups = results.groups
    assert groups.available and groups.estimate == results.headline.estimate
    assert sum(group.n_pairs for group in groups.groups) + groups.n_pairs_without_group == results.headline_estimate.n_pairs


def test_the_by_turn_example_is_the_example_fitted_per_turn():
    """reports/hh-rlhf-helpful-base-by-turn (reports/refit_by_turn.py): the example's pairs and headline, and each turn's
    pairs and own alpha as pairs.parquet's `turn` column and a plain slice fit of the headline on that turn give them."""
    folder = ROOT / "reports" / "hh-rlhf-helpful-base-by-turn"
    results, example = load_results(folder), load_results(ROOT / "reports" / "hh-rlhf-helpful-base")
    assert results.headline_estimate.n_pairs == example.headline_estimate.n_pairs == 2339
    assert results.headline_estimate.alpha == pytest.approx(example.headline_estimate.alpha, rel=1e-12)
    design = load_pairs(folder / PAIRS_FILE)
    counts = design.frame.groupby("turn")["prompt_id"].agg(["size", "nunique"])
    groups = results.groups
    assert groups.column == "turn" and [group.name for group in sorted(groups.groups, key=lambda g: g.name)] == ["1", "2", "3", "4+"]
    assert groups.n_groups == 4 and groups.n_pooled_groups == 0 and groups.n_pairs_without_group == 0
    spec = PairwiseSpec.of(results.headline_estimate)
    for group in groups.groups:
        assert (group.n_pairs, group.n_prompts) == tuple(counts.loc[group.name])
        alone = PairwiseLogit(design, dataclasses.replace(spec, slice=f"turn={group.name}")).fit()
        assert alone.n_pairs == group.n_pairs
        assert group.alpha == pytest.approx(alone.params[0], rel=1e-7) and group.se == pytest.approx(alone.bse[0], rel=1e-6)


def test_a_score_card_keeps_null_apart_from_absent_and_refuses_an_unknown_key():
    recorded = {"model": "m", "device_map": None, "fingerprint": "f", "skipped": {}}
    card = ScoreCard.from_dict(recorded)
    assert card.device_map is None and card.shard is None and list(card.to_dict()) == list(recorded)  # device_map null, shard absent
    assert ScoreCard(model="m", fingerprint="f").to_dict() == {"model": "m", "fingerprint": "f"}  # built: the fields that hold a value
    with pytest.raises(TypicalityError, match=r"ScoreCard has unknown key\(s\) gpu_hours.*add it as a field of typicality.results.ScoreCard"):
        ScoreCard.from_dict({**recorded, "gpu_hours": 1.0})
    with pytest.raises(TypicalityError, match="have values but are not in its keys"):
        card.replace(shard="0/2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        card.model = "other"


def test_the_display_name_is_decided_once():
    assert ScoreCard(model="gemma-3-270m", name="google/gemma-3-270m", fingerprint="f").display_name == "gemma-3-270m"
    assert ScoreCard(name="google/gemma-3-270m", fingerprint="f").display_name == "google/gemma-3-270m"
    assert ScoreCard(model="", fingerprint="f").display_name == "f"
    assert ScoreCard().display_name is None


def test_every_reader_names_the_model_by_display_name(rated_results, tmp_path):
    """The report, the comparison and summary() all show `display_name`: a card without `model` is named by `name`."""
    from typicality.report.content import model_name
    from typicality.stats.compare import ComparedAudit

    card = ScoreCard(name="google/gemma-3-270m", fingerprint="fp")
    results = rated_results.replace(model=card)
    assert results.model_name == "google/gemma-3-270m" and "model google/gemma-3-270m" in results.summary()
    folder = tmp_path / "a"
    save_results(results, folder)
    audit = read_audit(folder)
    assert model_name(audit) == "google/gemma-3-270m"
    assert ComparedAudit.of("a", folder, audit.results, pairs=None).describe().model.name == "google/gemma-3-270m"  # comparison.json's name
    assert model_name(AuditFolder(results=results.replace(model=None))) == "the reference model (not recorded)"


def test_pair_accounting_round_trips_each_shape():
    standard = {"comparisons": 5, "pairs": 2, "dropped": {"tie (ties='drop')": 1}, "responses": 8, "responses_without_score": 1,
                "responses_with_unusable_score": 0, "unusable_scores": {}, "ties_kept_as_half": 0}
    paper = {"comparisons": 3, "pairs": 3, "dropped": {}, "construction": "paper", "responses": 3, "responses_without_score": 0,
             "responses_with_unusable_score": 0, "unusable_scores": {}, "ties_kept_as_half": 0, "note": "repeats"}
    outside = {"comparisons": None, "pairs": 4, "dropped": {}, "note": "design built outside build_pairs: no accounting"}
    for shape in (standard, paper, outside):
        typed = PairAccounting.from_dict(shape)
        assert json.dumps(typed.to_dict()) == json.dumps(shape)
    assert PairAccounting.from_dict(standard).n_dropped("tie (ties='drop')") == 1 and PairAccounting.from_dict(paper).n_dropped("tie (ties='drop')") == 0
    with pytest.raises(TypicalityError, match=r"PairAccounting has unknown key\(s\) pairz.*re-run `typicality fit"):
        PairAccounting.from_dict({**standard, "pairz": 1})


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
