"""`analyze`: the results.json shape, the robustness set, and honest accounting when data or fits fall short."""

from __future__ import annotations

import json

import pytest

from tests.stats.builders import pairwise, random_pairwise, scores_table
from typicality.domain import ScoreResult
from typicality.errors import TypicalityError
from typicality.results import AuditResults
from typicality.stats import TypicalityBias, analyze, analyze_with_design, build_pairs, simulate

ESTIMATE_FIELDS = {
    "slice",
    "typicality",
    "controls",
    "alpha",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "odds_ratio_per_sd",
    "win_prob_change",
    "n_pairs",
    "n_clusters",
    "warnings",
}


def strict_json(results) -> AuditResults:
    """The results after a trip through strict JSON (no NaN or infinity), typed again as a reader gets them."""

    def refuse(constant):
        raise AssertionError(f"results.json holds {constant}")

    return AuditResults.from_dict(json.loads(json.dumps(results.to_dict(), allow_nan=False), parse_constant=refuse))


@pytest.fixture(scope="module")
def simulated():
    return simulate(0.5, 150, 4, seed=21)


def test_rated_results_have_the_design_shape_and_the_robustness_set(simulated):
    data, scores = simulated
    results, design = analyze_with_design(data, scores)
    content = strict_json(results)
    assert set(content.to_dict()) >= {"dataset", "model", "estimates", "agreement", "ordinal", "pairs", "warnings", "software", "headline"}
    # (The simulation draws a few responses above the memorized threshold; their robustness fit comes last: tests/stats/test_memorization.py.)
    assert [e.id for e in content.estimates if "not-memorized" not in e.slice] == [
        "equal-correctness|mean_logprob|none",
        "equal-correctness|mean_logprob|length",
        "equal-correctness|sum_logprob|none",
        "equal-correctness|sum_logprob|length",
        "all|mean_logprob|correctness",
        "all|mean_logprob|correctness+length",
        "all|mean_logprob|none",
        "all|mean_logprob|length",
        "all|sum_logprob|correctness",
        "all|sum_logprob|correctness+length",
        "all|sum_logprob|none",
        "all|sum_logprob|length",
    ]
    for estimate in content.estimates:
        assert ESTIMATE_FIELDS <= set(estimate.to_dict()) and estimate.fitted
    headline = content.headline
    assert (headline.estimate, headline.length_controlled) == ("equal-correctness|mean_logprob|none", "equal-correctness|mean_logprob|length")
    assert headline.curve == headline.estimate and headline.reason.startswith("pre-specified")
    # The change in alpha is the difference of the two fits' own alphas.
    twin, main = results.estimate(headline.length_controlled), results.estimate(headline.estimate)
    assert headline.alpha_change.estimate == pytest.approx(twin.alpha - main.alpha, abs=1e-15)
    # Slice membership is counted once, from the design: equal-correctness pairs are those with delta correctness 0.
    frame = design.frame
    assert content.slices["equal-correctness"]["n_pairs"] == int((frame["delta_correctness"] == 0).sum()) == main.n_pairs
    assert content.slices["all"] == {"n_pairs": len(frame), "n_prompts": frame["prompt_id"].nunique()}
    assert set(content.agreement.to_dict()) >= {"rate", "ci_low", "ci_high", "p_value", "n_pairs"}
    assert content.ordinal.fitted and content.ordinal.outcome == "helpfulness"
    assert content.software["statsmodels"] and content.model["fingerprint"].startswith("simulated(")
    assert content.warnings == ()
    # The same numbers as the estimator run by hand on the same design.
    adjusted = TypicalityBias(controls=["correctness"]).fit(build_pairs(data, scores)).estimate_
    assert results.estimate("all|mean_logprob|correctness").alpha == adjusted.alpha
    assert results.to_frame().shape[0] == 12 + (results.memorized.estimate is not None) and "alpha = " in results.summary()


def test_pairwise_data_and_subset_slices():
    data, scores = random_pairwise(120, seed=8, alpha=0.7)
    data.comparisons["subset"] = ["helpful-base" if i % 2 else "harmless-base" for i in range(len(data.comparisons))]
    results = analyze(data, scores)
    assert [e.id for e in results.estimates if "not-memorized" not in e.slice] == [
        "all|mean_logprob|none",
        "all|mean_logprob|length",
        "all|sum_logprob|none",
        "all|sum_logprob|length",
        "subset=harmless-base|mean_logprob|none",
        "subset=harmless-base|mean_logprob|length",
        "subset=helpful-base|mean_logprob|none",
        "subset=helpful-base|mean_logprob|length",
    ]
    assert results.ordinal is None
    assert sum(results.estimate(f"subset={s}|mean_logprob|none").n_pairs for s in ("harmless-base", "helpful-base")) == 120


def test_user_controls_and_slices(simulated):
    data, scores = simulated
    results = analyze(data, scores, controls=["correctness", "length"], slices=["equal-correctness", "all"], typicalities=("mean_logprob",))
    assert [e.id for e in results.estimates] == ["equal-correctness|mean_logprob|length", "all|mean_logprob|correctness+length"]
    with pytest.raises(TypicalityError, match="Unknown slice"):
        analyze(data, scores, slices=["domain"])
    with pytest.raises(TypicalityError, match="Unknown control"):
        analyze(data, scores, controls=["honesty"])


def test_missing_scores_are_counted_and_the_rest_is_fitted(simulated):
    data, scores = simulated
    results = strict_json(analyze(data, scores.table.iloc[40:]))
    assert results.pairs["responses_without_score"] == 40
    lost = results.pairs["dropped"]["a response has no usable score"]
    assert lost > 0 and results.pairs["pairs"] == len(data.comparisons) - lost
    assert results.warnings[0] == f"40 of {len(data.responses)} responses have no score (skipped by the scorer or not scored yet)."
    assert f"{lost} of {len(data.comparisons)} pairs are left out" in results.warnings[1]
    assert all(e.fitted for e in results.estimates)


def test_a_tiny_dataset_reports_reasons_not_nans():
    data, scores = random_pairwise(8, seed=1)
    results = strict_json(analyze(data, scores))
    assert all(not e.fitted and e.alpha is None and "only 8 pairs" in e.reason for e in results.estimates)
    assert results.warnings[0].startswith("4 of 4 fits could not run")
    assert results.agreement.n_pairs == 8 and results.agreement.rate is not None
    assert results.headline.estimate == "all|mean_logprob|none"


def test_separated_data_is_named_and_the_other_fits_still_run():
    # Every chosen response is both more typical and longer: no finite alpha exists.
    prompts = [f"p{i}" for i in range(40)]
    chosen, rejected = [f"good {i}" for i in range(40)], [f"bad {i}" for i in range(40)]
    data = pairwise(prompts, chosen, rejected)
    typicality = {**{c: -1.0 - i / 80 for i, c in enumerate(chosen)}, **{r: -2.0 - i / 40 for i, r in enumerate(rejected)}}
    results = strict_json(analyze(data, scores_table(data, typicality)))
    reasons = {e.id: e.reason for e in results.estimates}
    assert "perfect separation" in reasons["all|mean_logprob|none"]
    assert any("could not run" in w for w in results.warnings)


def test_no_usable_pairs_is_one_clear_error():
    data, _ = random_pairwise(20, seed=2)
    _, other_scores = random_pairwise(20, seed=3)
    other_scores["response_id"] = other_scores["response_id"] + "x"
    with pytest.raises(TypicalityError, match="no usable pairs"):
        analyze(data, other_scores)


def test_a_prebuilt_design_and_the_model_card_are_used(simulated):
    data, scores = simulated
    design = build_pairs(data, scores, seed=4)
    card = {"model": "gemma-3-270m", "fingerprint": "abc"}
    results, used = analyze_with_design(data, ScoreResult(scores.table, card), design=design)
    assert used is design and results.model == card


def test_scorer_skips_are_named_in_the_warnings(simulated):
    data, scores = simulated
    scores = scores.table.copy()
    scores.loc[:2, ["n_tokens", "mean_logprob", "sum_logprob", "skipped"]] = [0, float("nan"), float("nan"), "empty response"]
    results = strict_json(analyze(data, scores))
    assert results.warnings[0] == f"3 of {len(data.responses)} responses have no usable score (skipped by the scorer: empty response: 3)."
