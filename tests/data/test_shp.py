"""The stanfordnlp/SHP loader on a fixture in the original schema (a JSON-lines file named .json)."""

from __future__ import annotations

import pytest

from tests.data.files import write_jsonl
from typicality.data import load
from typicality.errors import TypicalityError


def pair(post_id, history, ref_a, ref_b, label, score_a, score_b, domain="askculinary_train"):
    return {
        "post_id": post_id,
        "domain": domain,
        "upvote_ratio": 0.95,
        "history": history,
        "c_root_id_A": f"{post_id}-a",
        "c_root_id_B": f"{post_id}-b",
        "created_at_utc_A": 1600000000,
        "created_at_utc_B": 1600000100,
        "score_A": score_a,
        "score_B": score_b,
        "human_ref_A": ref_a,
        "human_ref_B": ref_b,
        "labels": label,
        "seconds_difference": 100.0,
        "score_ratio": max(score_a, score_b) / min(score_a, score_b),
    }


ROWS = [
    pair("p1", "How do I sear a steak?", "Hot pan.", "Oven.", 1, 30, 10),
    pair("p1", "How do I sear a steak?", "Grill it.", "Hot pan.", 0, 5, 30),
    pair("p1", "How do I sear a steak?", "Oven.", "Grill it.", 1, 10, 5),
    pair("p2", "Salt before or after?", "", "Before.", 0, 2, 8),  # empty response
    pair("p3", "Best knife?", "Chef's knife.", "Chef's knife.", 1, 9, 3),  # identical
    pair("p4", "Why rest meat?", "Juices.", "No reason.", 0, 3, 12, domain="askscience_test"),
]


def test_pairs_labels_and_metadata(tmp_path):
    data = load("shp", data_files=write_jsonl(tmp_path / "test.json", ROWS))
    summary = data.summary()
    assert summary["n_rows"] == 6
    assert summary["n_comparisons"] == 4
    assert summary["n_prompts"] == 2
    assert summary["n_responses"] == 5  # three comments under p1, two under p4
    assert summary["n_ties"] == 0
    assert summary["dropped"] == {"empty response": 1, "identical responses": 1}
    assert data.comparisons["label"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert data.comparisons["score_ratio"].tolist() == pytest.approx([3.0, 6.0, 2.0, 4.0])
    assert data.comparisons["domain"].tolist() == ["askculinary_train"] * 3 + ["askscience_test"]
    assert set(data.responses["prompt"]) == {"How do I sear a steak?", "Why rest meat?"}


def test_labels_other_than_0_or_1_are_an_error(tmp_path):
    rows = [pair("p1", "Q?", "a", "b", 2, 3, 1)]
    with pytest.raises(TypicalityError, match="labels are not 1 .* or 0 .*found 2"):
        load("shp", data_files=write_jsonl(tmp_path / "test.json", rows))


def test_unknown_subset_lists_the_subreddits():
    with pytest.raises(TypicalityError, match="no subset 'askcats'.*askculinary"):
        load("shp", subset="askcats")
