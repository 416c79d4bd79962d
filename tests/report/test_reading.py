"""typicality.report.reading: looking up what results.json names, and the pair orientation undone for display."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.report.synthetic import stored_results
from typicality.audit_folder import load_data, read_audit
from typicality.report.reading import (
    controls_of,
    decisive_pairs,
    estimate_by_id,
    estimates_of,
    is_fitted,
    named_estimate,
    number,
)


@pytest.mark.parametrize("value", [None, float("nan"), float("inf"), "abc", True, [1]])
def test_number_rejects_what_is_not_a_finite_number(value):
    assert number(value) is None


def test_number_keeps_finite_numbers():
    assert number(0) == 0.0 and number("0.25") == 0.25 and number(np.float32(1.5)) == 1.5


def test_controls_and_estimates_are_read_as_results_json_stores_them():
    assert controls_of({}) == [] and controls_of({"controls": None}) == []
    assert controls_of({"controls": ["correctness", "length"]}) == ["correctness", "length"]
    assert estimates_of({}) == [] and estimates_of({"estimates": None}) == [] and estimates_of({"estimates": "x"}) == []
    assert estimates_of({"estimates": [{"id": "a"}, "junk", None]}) == [{"id": "a"}]


def test_an_estimate_is_fitted_only_with_a_finite_alpha():
    assert is_fitted({"fitted": True, "alpha": 0.5})
    assert not is_fitted({"fitted": False, "alpha": 0.5})
    assert not is_fitted({"fitted": True, "alpha": None}) and not is_fitted({"alpha": float("nan")})


def test_named_estimates_are_the_ones_results_json_names(audit_dir):
    """No choosing: each role is looked up by the id the stats stage wrote, whatever the estimates' order."""
    results = stored_results(audit_dir)
    named = results["headline"]
    for role in ("estimate", "length_controlled", "curve"):
        assert named_estimate(results, role)["id"] == named[role]
    assert named_estimate(results, "estimate")["controls"] == ["correctness"]  # the rated data's adjusted fit
    assert named_estimate(results, "length_controlled")["controls"] == ["correctness", "length"]
    assert named_estimate(results, "curve")["controls"] == []
    results["estimates"].reverse()
    assert named_estimate(results, "estimate")["id"] == named["estimate"]
    # A name that matches nothing, a null name or no headline at all: nothing is picked in its place.
    results["headline"]["estimate"] = "no such id"
    results["headline"]["length_controlled"] = None
    assert named_estimate(results, "estimate") is None and named_estimate(results, "length_controlled") is None
    assert named_estimate({"estimates": results["estimates"]}, "estimate") is None
    assert estimate_by_id(results, None) is None
    assert estimate_by_id(results, named["curve"])["id"] == named["curve"]


def test_preferred_minus_rejected_matches_the_unoriented_comparisons(audit_dir):
    """The random orientation is undone: Δ per pair equals preferred minus rejected from the data itself."""
    audit = read_audit(audit_dir)
    decisive = decisive_pairs(audit.pairs.frame, "delta_mean_logprob")
    data = load_data(audit_dir)
    mean = dict(zip(audit.scores.table["response_id"], audit.scores.table["mean_logprob"]))
    expected = {}
    for row in data.comparisons.itertuples():
        if row.label == 0.5:
            continue
        preferred, rejected = (row.response_a, row.response_b) if row.label == 1 else (row.response_b, row.response_a)
        expected[(preferred, rejected)] = mean[preferred] - mean[rejected]
    got = {(row.preferred_id, row.rejected_id): row.delta_preferred for row in decisive.itertuples()}
    assert len(expected) == 47 and got.keys() == expected.keys()
    np.testing.assert_allclose([got[key] for key in expected], list(expected.values()), rtol=0, atol=1e-12)
    assert audit.pairs.frame["flipped"].any() and not audit.pairs.frame["flipped"].all()  # both orientations were undone


def test_ties_and_missing_deltas_are_left_out():
    pairs = pd.DataFrame(
        {"label": [1.0, 0.0, 0.5, 1.0], "delta_mean_logprob": [0.5, 0.5, 0.3, np.nan], "response_a": list("abcd"), "response_b": list("wxyz")}
    )
    decisive = decisive_pairs(pairs, "delta_mean_logprob")
    assert decisive["delta_preferred"].tolist() == [0.5, -0.5]
    assert decisive["preferred_id"].tolist() == ["a", "x"] and decisive["rejected_id"].tolist() == ["w", "b"]
