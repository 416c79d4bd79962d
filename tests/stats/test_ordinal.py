"""The ordinal logit and its LR test, against binary logits (a 2-level ordinal logit is a logit) and a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from tests.stats.builders import rated, scores_table
from typicality.errors import TypicalityError
from typicality.stats import ordinal_logit
from typicality.stats.ordinal import preference_rating


def rated_data(n: int, seed: int, levels: np.ndarray | None = None, beta: float = 0.8):
    """n responses (3 per prompt): helpfulness cut from 1.0 * correctness + beta * typicality + logistic noise."""
    rng = np.random.default_rng(seed)
    correctness = rng.integers(0, 5, size=n).astype(float)
    typicality = rng.normal(-2, 1, size=n)
    latent = correctness + beta * typicality + rng.logistic(size=n)
    cuts = np.array([-1.0, 0.5, 2.0, 3.5]) if levels is None else levels
    helpfulness = np.searchsorted(cuts, latent).astype(float)
    rows = [{"prompt": f"q{i // 3}", "response": f"r{i}", "helpfulness": helpfulness[i], "correctness": correctness[i]} for i in range(n)]
    data = rated(rows)
    return data, scores_table(data, {f"r{i}": typicality[i] for i in range(n)})


def binary_logit_lr(data, scores, with_correctness: bool):
    """The same model as a binary logit: typicality centred within prompt, correctness as level indicators."""
    table = data.responses.merge(scores[["response_id", "mean_logprob"]], on="response_id")
    y = table["helpfulness"].to_numpy(float)
    centred = table["mean_logprob"] - table.groupby("prompt_id")["mean_logprob"].transform("mean")
    base = [np.ones(len(y))]
    if with_correctness:
        base += [(table["correctness"] == level).to_numpy(float) for level in sorted(table["correctness"].unique())[1:]]
    groups = pd.factorize(table["prompt_id"])[0]
    full = sm.Logit(y, np.column_stack(base + [centred.to_numpy(float)])).fit(disp=False)
    clustered = sm.Logit(y, np.column_stack(base + [centred.to_numpy(float)])).fit(disp=False, cov_type="cluster", cov_kwds={"groups": groups})
    reduced = sm.Logit(y, np.column_stack(base)).fit(disp=False)
    return full, clustered, 2 * (full.llf - reduced.llf)


@pytest.mark.parametrize("with_correctness", [True, False])
def test_two_levels_match_a_binary_logit(with_correctness):
    data, scores = rated_data(600, seed=1, levels=np.array([2.0]))
    fit = ordinal_logit(data, scores, controls=None if with_correctness else [])
    full, clustered, lr = binary_logit_lr(data, scores, with_correctness)
    assert fit.fitted and fit.n_levels == 2 and fit.n_responses == 600 and fit.n_prompts == 200
    assert fit.coef == pytest.approx(full.params[-1], rel=1e-5)
    assert fit.se == pytest.approx(full.bse[-1], rel=1e-3)
    assert fit.cluster_se == pytest.approx(clustered.bse[-1], rel=1e-3)
    assert fit.lr_statistic == pytest.approx(lr, rel=1e-5)
    if with_correctness:
        assert fit.coefficients["correctness=1"]["coef"] == pytest.approx(full.params[1], rel=1e-4)
        assert len(fit.coefficients) == 4  # levels 1-4 against 0


def test_recovers_a_known_coefficient_and_the_lr_test_sees_it():
    data, scores = rated_data(3000, seed=2, beta=0.8)
    fit = ordinal_logit(data, scores)
    assert fit.outcome == "helpfulness" and fit.controls == ["correctness"] and fit.n_levels == 5
    assert abs(fit.coef - 0.8) < 3 * fit.cluster_se
    # Correctness enters as categories; with a linear truth, level k is worth k.
    for level in (1, 2, 3, 4):
        record = fit.coefficients[f"correctness={level}"]
        assert record["coef"] == pytest.approx(float(level), abs=3 * record["se"])
    assert fit.cluster_p_value < 1e-6 and fit.cluster_ci_low < fit.coef < fit.cluster_ci_high
    assert fit.lr_p_value < 1e-10
    null = ordinal_logit(*rated_data(3000, seed=3, beta=0.0))
    assert null.lr_p_value > 0.001


def test_degenerate_inputs_give_a_reason():
    data, scores = rated_data(12, seed=4)
    assert "only 12 responses" in ordinal_logit(data, scores).reason
    data, scores = rated_data(60, seed=4)
    flat = scores.assign(mean_logprob=-1.0, sum_logprob=-10.0)
    fit = ordinal_logit(data, flat)
    assert not fit.fitted and "constant" in fit.reason and fit.coef is None
    missing = scores.iloc[5:]
    assert "5 of 60 responses lack a score" in ordinal_logit(data, missing).warnings[0]


def test_the_preference_rating_is_read_from_the_data():
    data, _ = rated_data(30, seed=5)
    assert preference_rating(data) == "helpfulness"
    data.preference_rating = None  # pairwise data records no preference rating
    with pytest.raises(TypicalityError, match="no preference rating"):
        ordinal_logit(data, pd.DataFrame(columns=["response_id", "n_tokens", "sum_logprob", "mean_logprob"]))


def test_within_prompt_centring_removes_a_prompt_level_confounder():
    """Prompts differ in difficulty: easy prompts get higher ratings and more typical answers. Within prompts typicality does nothing."""
    rng = np.random.default_rng(6)
    rows, typicality = [], {}
    for p in range(400):
        easy = rng.normal()
        for k in range(4):
            text = f"r{p}.{k}"
            typicality[text] = -2 + easy + 0.5 * rng.normal()
            latent = 1.5 * easy + rng.logistic()
            rows.append({"prompt": f"q{p}", "response": text, "helpfulness": float(np.searchsorted([-1.5, 0.0, 1.5], latent)), "correctness": 1.0})
    data = rated(rows)
    fit = ordinal_logit(data, scores_table(data, typicality), controls=[])
    assert fit.fitted
    assert fit.cluster_ci_low < 0 < fit.cluster_ci_high  # no within-prompt effect
    # Without centring (the old model) the prompt effect shows up as a large typicality effect.
    table = data.responses.assign(t=[typicality[r] for r in data.responses["response"]])
    pooled = sm.Logit((table["helpfulness"] >= 2).astype(float), sm.add_constant(table[["t"]])).fit(disp=False)
    assert pooled.params["t"] > 0.5
