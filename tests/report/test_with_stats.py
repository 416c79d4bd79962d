"""The report's numbers against the same numbers computed another way: alpha, its SE and CI refitted
by hand (numpy Newton steps and a hand-written cluster sandwich, synthetic.hand_fit), the agreement
rate recounted from the pair table; and a folder with too few pairs for any fit."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.report.page import (
    NOT_A_NUMBER,
    coefficient,
    headline_items,
    markdown_table_rows,
    p_clause,
    p_value,
    quotes,
    report_text_without_dataset_text,
    visible_text,
)
from tests.report.synthetic import build_audit_folder, hand_agreement, hand_fit
from typicality.audit_folder import PAIRS_FILE, load_results
from typicality.report import render_report


def pairs_of_slice(pairs: pd.DataFrame, name: str) -> pd.DataFrame:
    """A slice by hand: `all`, or `equal-correctness` (both responses rated equally correct)."""
    if name == "all":
        return pairs
    assert name == "equal-correctness", name
    return pairs[pairs["correctness_a"] == pairs["correctness_b"]]


@pytest.mark.parametrize("folder", ["audit_dir", "pairwise_dir"])
def test_every_printed_alpha_matches_a_fit_by_hand(folder, request):
    folder = request.getfixturevalue(folder)
    pairs = pd.read_parquet(folder / PAIRS_FILE)
    results = load_results(folder)
    paths = render_report(folder)
    texts = [" ".join(visible_text(path).split()) for path in (paths.markdown, paths.html)]
    # The paper's logit fits (other estimators, such as the tie-aware one, have their own tests in tests/stats).
    fitted = [e for e in results.estimates if e.fitted and e.estimator == "logit"]
    assert len(fitted) == (8 if results.dataset.kind == "rated" else 4)
    for estimate in fitted:
        expected = hand_fit(pairs_of_slice(pairs, estimate.slice), estimate.typicality, estimate.controls)
        assert expected["n_pairs"] == estimate.n_pairs and expected["n_clusters"] == estimate.n_clusters
        # Its row of the estimates table (found by slice, typicality and controls) holds the hand fit's numbers.
        label = [estimate.slice, estimate.typicality, " + ".join(estimate.controls) or "none"]
        rows = [cells for cells in markdown_table_rows(paths.markdown.read_text(encoding="utf-8")) if cells[:3] == label]
        wanted = (
            coefficient(expected["alpha"]),
            coefficient(expected["se"]),
            f"{coefficient(expected['ci_low'])} to {coefficient(expected['ci_high'])}",
            p_value(expected["p_value"]),
            f"{expected['odds_ratio_per_sd']:.2f}",
            f"{expected['win_prob_change']:+.2f}",
            str(expected["n_pairs"]),
            str(expected["n_clusters"]),
        )
        assert any(all(piece in row for piece in wanted) for row in rows), (estimate.id, wanted, rows)
        for text in texts:
            assert coefficient(expected["alpha"]) in text and coefficient(expected["se"]) in text

    # The headline sentences, from the hand fits of the fits results.json names.
    main, twin = results.headline_estimate, results.length_controlled_estimate
    by_hand = hand_fit(pairs, main.typicality, main.controls)
    twin_by_hand = hand_fit(pairs, twin.typicality, twin.controls)
    agreement = hand_agreement(pairs)
    for path in (paths.markdown, paths.html):
        items = headline_items(path)
        assert any(quotes(item, by_hand) and f"odds ratio per SD of Δ typicality {by_hand['odds_ratio_per_sd']:.2f}" in item
                   and f"{by_hand['win_prob_change']:+.2f}" in item for item in items), items
        assert any(quotes(item, twin_by_hand) for item in items), items
        text = " ".join(items)
        assert re.search(re.escape(f"changes alpha by {twin_by_hand['alpha'] - by_hand['alpha']:+.3f}") + r"[. ]", text)
        assert (
            f"In {agreement['n_pairs']} pairs, the preferred response was the more typical one (higher mean per-token log-likelihood "
            f"under gemma-3-270m) in {100 * agreement['rate']:.1f}% of pairs (95% CI {100 * agreement['ci_low']:.1f}% to "
            f"{100 * agreement['ci_high']:.1f}%; binomial test against 50%: {p_clause(agreement['p_value'])})."
        ) in text


def test_a_few_pairs_still_get_a_full_report_that_says_why_fits_are_missing(tmp_path):
    folder = build_audit_folder(tmp_path / "tiny", rated=False, n_prompts=5, per_prompt=2)
    results = load_results(folder)
    assert not any(estimate.fitted for estimate in results.estimates)  # too few pairs for any fit
    assert results.headline.curve is None and results.headline.alpha_change is None

    paths = render_report(folder)
    text = visible_text(paths.markdown)
    reason = results.estimates[0].reason
    assert reason == "only 5 pairs in slice 'all'; at least 10 are needed for a fit"
    assert f"The headline fit (all · mean_logprob · no controls) could not run ({reason})." in text
    assert "Only 5 pairs: the headline regression could not be fitted, and the agreement rate's interval is wide." in text
    assert f"{100 * hand_agreement(pd.read_parquet(folder / PAIRS_FILE))['rate']:.1f}%" in text
    assert "No fitted alpha of mean typicality without controls is available, so no curve is drawn." in text
    assert [p.name for p in paths.figures] == ["delta_distribution.png", "preference_rate.png", "forest.png", "length_confound.png"]
    assert not NOT_A_NUMBER.search(report_text_without_dataset_text(paths.markdown.read_text(encoding="utf-8")))
