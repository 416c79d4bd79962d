"""The power planner: the closed form against hand-worked numbers, the project's simulator, and an audit folder."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import norm

from typicality.errors import TypicalityError
from typicality.stats.power import all_pairs_icc, design_effect, effective_pairs, plan
from typicality.stats.simulation import simulate


def test_closed_form_matches_a_hand_computation():
    # alpha 0.2 per nat, SD 1.25 -> log OR per SD 0.25; 1,000 pairs, one per prompt, no ties:
    # shift = 0.25 * sqrt(1000 / 4) = 3.953; power = Phi(3.953 - 1.960) + Phi(-3.953 - 1.960) = 0.9770.
    result = plan(alpha=0.2, sd_delta=1.25, pairs=1000)
    assert result.power == pytest.approx(norm.cdf(0.25 * math.sqrt(250) - 1.959964) + norm.cdf(-0.25 * math.sqrt(250) - 1.959964), abs=1e-6)
    assert result.power == pytest.approx(0.9770, abs=5e-4)
    # n = (1.960 + 0.8416)^2 / (0.25 * 0.25^2) = 502.3 -> 503 pairs for 80% power.
    assert result.pairs_for_target == 503
    # Smallest alpha at 1,000 pairs: (1.960 + 0.8416) / sqrt(1000 * 0.25) / 1.25 = 0.1417.
    assert result.min_detectable_alpha == pytest.approx((1.959964 + 0.841621) / math.sqrt(250) / 1.25, rel=1e-6)
    # The odds ratio gives the same plan as the alpha it implies.
    assert plan(odds_ratio_per_sd=math.exp(0.25), sd_delta=1.25, pairs=1000).power == pytest.approx(result.power)


def test_ties_controls_and_clustering_shrink_the_effective_pairs():
    # 6 pairs per prompt, ICC 0.1, 20% ties: 4.8 untied pairs per prompt -> DE = 1 + 3.8 * 0.1 = 1.38;
    # R^2 0.3 -> 1000 * 0.8 * 0.7 / 1.38 = 405.8 effective pairs.
    assert design_effect(4.8, 0.1) == pytest.approx(1.38)
    assert effective_pairs(1000, pairs_per_prompt=6, icc=0.1, tie_share=0.2, r2_controls=0.3) == pytest.approx(560 / 1.38)
    plain, clustered = plan(alpha=0.2, pairs=2000), plan(alpha=0.2, pairs=2000, pairs_per_prompt=6, icc=0.1, tie_share=0.2, r2_controls=0.3)
    assert clustered.power < plain.power
    assert clustered.pairs_for_target == pytest.approx(plain.pairs_for_target * 2000 / clustered.effective_pairs, rel=2e-3)
    # The table is monotone in the number of pairs and contains the planned number and the answer.
    powers = [row["power"] for row in clustered.table]
    assert powers == sorted(powers) and {2000, clustered.pairs_for_target} <= {row["pairs"] for row in clustered.table}


def test_all_pairs_icc_closed_form():
    assert all_pairs_icc(2) == 0.0
    assert all_pairs_icc(3) == pytest.approx(1 / 6)  # 3 pairs: DE = 1 + 2/6 = 4/3 = 1 + (k - 2) / 3
    assert design_effect(6, all_pairs_icc(4)) == pytest.approx(1 + 2 / 3)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"alpha": 0.2, "odds_ratio_per_sd": 1.2}, "either --alpha or --odds-ratio"),
        ({}, "either --alpha or --odds-ratio"),
        ({"alpha": 0.2, "icc": 1.5}, "--icc"),
        ({"alpha": 0.2, "tie_share": 1.0}, "--tie-share"),
        ({"alpha": 0.2, "sd_delta": 0.0}, "--sd-delta"),
        ({"odds_ratio_per_sd": -1.0}, "--odds-ratio"),
    ],
)
def test_bad_assumptions_get_one_clear_message(arguments, message):
    with pytest.raises(TypicalityError, match=message):
        plan(**arguments)


def _simulated_power(alpha: float, prompts: int, responses: int, n_sims: int) -> tuple[float, float]:
    """Share of simulated audits whose clustered logit rejects alpha = 0 at 5%, and the RMS of Δℓ they had."""
    rejections, squares = 0, []
    for seed in range(n_sims):
        data, scores = simulate(alpha, prompts, responses, seed=seed, quality_effect=0.0)
        typicality = scores.table.set_index("response_id")["mean_logprob"]
        pairs = data.comparisons
        delta = typicality.loc[pairs["response_a"]].to_numpy() - typicality.loc[pairs["response_b"]].to_numpy()
        groups = pd.factorize(pairs["prompt_id"])[0]
        fit = sm.GLM(pairs["label"].to_numpy(float), delta[:, None], family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True}
        )
        rejections += fit.pvalues[0] < 0.05
        squares.append(np.mean(delta**2))
    return rejections / n_sims, float(np.sqrt(np.mean(squares)))


@pytest.mark.parametrize(
    "alpha, prompts, responses",
    [
        (0.15, 1000, 2),  # one pair per prompt: no clustering
        (0.15, 300, 4),  # every pair of 4 responses: 6 pairs per prompt, ICC 2/15
        (0.12, 600, 3),  # every pair of 3: 3 pairs per prompt, ICC 1/6
    ],
)
def test_predicted_power_agrees_with_the_simulator(alpha, prompts, responses):
    """The simulator's annotators follow the paper's model exactly (quality_effect 0: Δℓ is the only cause).

    Effects are small (log OR per SD 0.14-0.17), where the closed form is meant to hold: its
    information P (1 - P) = 1/4 is the value at Δℓ = 0 and overstates the average by a share of
    about (3/4) b*^2 (3 points of power at b* = 0.3, well under 1 point here).
    """
    simulated, sd_delta = _simulated_power(alpha, prompts, responses, n_sims=300)
    per_prompt = responses * (responses - 1) // 2
    predicted = plan(alpha=alpha, sd_delta=sd_delta, pairs=prompts * per_prompt, pairs_per_prompt=per_prompt, icc=all_pairs_icc(responses)).power
    assert 0.6 < predicted < 0.95  # where power is informative
    assert abs(predicted - simulated) < 0.03, (predicted, simulated)


@pytest.fixture(scope="module")
def all_pairs_audit(tmp_path_factory):
    """A finished audit of every pair of 4 responses per prompt, no correctness rating: the headline is all pairs, no controls."""
    import dataclasses

    from tests.stats.compare_audits import write_audit

    data, scores = simulate(0.3, 400, 4, seed=2, quality_effect=0.0)
    data = dataclasses.replace(data, responses=data.responses.drop(columns="correctness"), rating_columns=["helpfulness"], correctness=None)
    return write_audit(tmp_path_factory.mktemp("plan") / "audit", data, scores)


def test_plan_from_an_audit_recovers_its_design_and_agrees_with_its_own_se(all_pairs_audit):
    from typicality.audit_folder import read_audit
    from typicality.stats.power import plan_from_audit

    audit = read_audit(all_pairs_audit, with_data=False)
    result = plan_from_audit(audit)
    headline = audit.results.headline_estimate
    assert result.pairs == headline.n_pairs == 2400 and result.pairs_per_prompt == pytest.approx(6.0)
    assert result.alpha == pytest.approx(headline.alpha) and result.sd_delta == pytest.approx(headline.sd_delta)
    # The audit's own design effect implies an ICC near the closed form for every pair of 4 responses (2/15).
    assert result.icc == pytest.approx(all_pairs_icc(4), abs=0.08)
    # The closed form's SE at the audit's size is the audit's clustered SE, within the formula's small-effect error.
    predicted_se = 1 / math.sqrt(result.effective_pairs * 0.25) / result.sd_delta
    assert predicted_se == pytest.approx(headline.se, rel=0.12)
    from_se = result.source["pairs_for_target_from_observed_se"]
    assert result.pairs_for_target == pytest.approx(from_se, rel=0.25)


def test_cli_plan_prints_a_sentence_and_a_table_or_json(all_pairs_audit, capsys):
    import json

    from typicality.cli import main

    assert main(["plan", "--alpha", "0.2", "--sd-delta", "1.25", "--n-pairs", "1000"]) == 0
    printed = capsys.readouterr().out
    assert "98% power" in printed and "503 pairs" in printed and "1,000" in printed
    assert main(["plan", str(all_pairs_audit), "--json"]) == 0
    plan_json = json.loads(capsys.readouterr().out)
    assert plan_json["source"]["kind"] == "audit" and plan_json["pairs"] == 2400
    assert main(["plan", str(all_pairs_audit), "--icc", "0.1"]) == 2
    assert "design comes from the audit" in capsys.readouterr().err
    assert main(["plan", "--n-pairs", "100"]) == 2
    assert "either --alpha or --odds-ratio" in capsys.readouterr().err
