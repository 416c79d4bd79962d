"""What the report reads: the fits results.json names (through AuditResults), numbers made safe for display,
and the pair orientation undone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.report.synthetic import store_results, stored_results
from typicality.audit_folder import load_data, load_results, read_audit
from typicality.errors import TypicalityError
from typicality.formatting import number
from typicality.report import render_report
from typicality.report.reading import decisive_pairs


@pytest.mark.parametrize("value", [None, float("nan"), float("inf"), "abc", True, [1]])
def test_number_rejects_what_is_not_a_finite_number(value):
    assert number(value) is None


def test_number_keeps_finite_numbers():
    assert number(0) == 0.0 and number("0.25") == 0.25 and number(np.float32(1.5)) == 1.5


@pytest.mark.parametrize("junk", ["junk", {"id": "a"}])
def test_an_estimate_that_is_not_a_fit_is_refused_when_the_folder_is_read(audit_dir, junk):
    """The report no longer skips what is not an estimate: reading results.json refuses it, in one line, and no report is written."""
    results = stored_results(audit_dir)
    results["estimates"].append(junk)
    store_results(audit_dir, results)
    with pytest.raises(TypicalityError, match=r"results\.json does not hold the results this version writes .*: re-run `typicality fit") as raised:
        render_report(audit_dir)
    assert "\n" not in str(raised.value) and not (audit_dir / "report.md").exists()


def test_named_estimates_are_the_ones_results_json_names(audit_dir):
    """No choosing: each role is looked up by the id the stats stage wrote, whatever the estimates' order."""
    results = load_results(audit_dir)
    named = results.headline
    assert results.headline_estimate.id == named.estimate
    assert results.length_controlled_estimate.id == named.length_controlled
    assert results.curve_estimate.id == named.curve
    assert results.headline_estimate.controls == ["correctness"]  # the rated data's adjusted fit
    assert results.length_controlled_estimate.controls == ["correctness", "length"]
    assert results.curve_estimate.controls == []
    reversed_order = results.replace(estimates=results.estimates[::-1])
    assert reversed_order.headline_estimate.id == named.estimate
    # A name that matches nothing or a null name (no headline at all): nothing is picked in its place.
    renamed = results.replace(headline=named.replace(estimate="no such id", length_controlled=None))
    assert renamed.headline_estimate is None and renamed.length_controlled_estimate is None
    assert results.replace(headline=named.replace(estimate=None)).headline_estimate is None
    assert results.estimate(None) is None
    assert results.estimate(named.curve).id == named.curve


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
