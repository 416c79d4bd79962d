"""The agreement rate against a naive count, the Wilson formula and the exact binomial sum."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binom

from tests.stats.builders import pairwise, random_pairwise, scores_table
from typicality.errors import TypicalityError
from typicality.stats import agreement_rate, build_pairs


def wilson(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return centre - half, centre + half


def exact_two_sided(successes: int, trials: int) -> float:
    """The exact binomial test against 1/2: the probability of an outcome at most as likely as the one seen."""
    observed = binom.pmf(successes, trials, 0.5)
    return min(1.0, sum(binom.pmf(k, trials, 0.5) for k in range(trials + 1) if binom.pmf(k, trials, 0.5) <= observed * (1 + 1e-7)))


def test_rate_interval_and_test_match_independent_computations():
    data, scores = random_pairwise(500, seed=3, alpha=0.6)
    result = agreement_rate(data, scores)
    # Naive: the source lists the preferred response first.
    means = dict(zip(scores["response_id"], scores["mean_logprob"]))
    agree = sum(means[a] > means[b] for a, b in zip(data.comparisons["response_a"], data.comparisons["response_b"]))
    assert result.n_pairs == 500 and result.n_agree == agree
    assert result.rate == pytest.approx(agree / 500, abs=1e-15)
    low, high = wilson(agree, 500)
    assert result.ci_low == pytest.approx(low, abs=1e-12) and result.ci_high == pytest.approx(high, abs=1e-12)
    assert result.p_value == pytest.approx(exact_two_sided(agree, 500), rel=1e-6)
    assert agreement_rate(build_pairs(data, scores, seed=9)).to_dict() == result.to_dict()


def test_ties_are_left_out_and_counted():
    data = pairwise(["P1", "P2", "P3", "P4"], ["a1", "a2", "a3", "a4"], ["b1", "b2", "b3", "b4"], [1.0, 0.0, 0.5, 1.0])
    scores = scores_table(data, {"a1": -1, "b1": -2, "a2": -1, "b2": -2, "a3": -1, "b3": -2, "a4": -3, "b4": -3})
    result = agreement_rate(build_pairs(data, scores, ties="half"))
    # P1 agrees, P2 disagrees, P3 is a label tie, P4 a typicality tie.
    assert (result.n_agree, result.n_pairs, result.n_typicality_ties) == (1, 2, 1)
    assert result.rate == 0.5


def test_no_pairs_gives_no_numbers_and_a_reason():
    data = pairwise(["P1"], ["a"], ["b"], [0.5])
    result = agreement_rate(build_pairs(data, scores_table(data, {"a": -1, "b": -2}), ties="half"))
    assert result.rate is None and result.p_value is None and "undefined" in result.warnings[-1]
    with pytest.raises(TypicalityError, match="scores table is missing"):
        agreement_rate(data)
