"""The allenai/multipref loader on a fixture in the original schema (MultiPref-Train.jsonl: one comparison a line)."""

from __future__ import annotations

import pytest

from tests.data.files import write_jsonl
from typicality.data import load
from typicality.data.sources.multipref import UNKNOWN_PREFERENCE
from typicality.domain import ANNOTATOR_COLUMN
from typicality.errors import TypicalityError

PAIR_KEY = ["prompt_id", "response_a", "response_b"]


def annotation(evaluator, overall_pref):
    """One annotation as the card lists its fields."""
    aspects = {}
    for aspect in ("helpful", "truthful", "harmless"):
        aspects |= {f"{aspect}_pref": "Tie", f"{aspect}_checked_reasons": [], f"{aspect}_own_reason": "", f"{aspect}_confidence": "fairly-confident"}
    return {"evaluator": evaluator, "time_spent": 301, "timestamp": "2024-05-21 19:10:52.153648", "overall_pref": overall_pref,
            "overall_confidence": "absolutely-confident", **aspects}  # fmt: skip


def comparison(number, text, completion_a, completion_b, normal, expert, category="Open QA"):
    return {
        "comparison_id": f"c{number}",
        "prompt_id": f"p{number}",
        "text": text,
        "model_a": "allenai/tulu-2-70b",
        "completion_a": completion_a,
        "model_b": "gpt-4-turbo-2024-04-09",
        "completion_b": completion_b,
        "source": "lmsys/chatbot_arena_conversations",
        "category": category,
        "subject_study": "Sports",
        "highest_level_degree": "Social Sciences",
        "normal_worker_annotations": [annotation(evaluator, pref) for evaluator, pref in normal],
        "expert_worker_annotations": [annotation(evaluator, pref) for evaluator, pref in expert],
    }


BASKETBALL = "who would win, a college championship level mens basketball team or a WNBA team?"
ROWS = [
    comparison(1, BASKETBALL, "Hard to say.", "It depends on many factors.",
               [("crowd1", "A-is-clearly-better"), ("crowd2", "Tie")], [("expert1", "B-is-slightly-better"), ("expert2", "A-is-slightly-better")]),
    comparison(2, "Write a haiku about rain.", "Rain taps the window", "Soft rain on the roof",
               [("crowd1", "B-is-clearly-better"), ("crowd3", "B-is-slightly-better")], [("expert1", "A-is-clearly-better"), ("expert3", "")]),
    comparison(3, BASKETBALL, "The WNBA team.", "The college team, most likely.",  # a prompt repeated with other responses
               [("crowd2", "A-is-slightly-better"), ("crowd4", "B-is-slightly-better")], [("expert2", "Tie"), ("expert4", "Tie")],
               category="Brainstorm"),
    comparison(4, "Name a prime.", "7", "11", [], []),
    comparison(5, "Say hi.", "Hi!", "Hi!", [("crowd1", "Tie"), ("crowd2", "Tie")], [("expert1", "Tie"), ("expert2", "Tie")]),
]  # fmt: skip


def test_every_annotation_is_a_comparison_with_its_annotator(tmp_path):
    data = load("multipref", data_files=write_jsonl(tmp_path / "MultiPref-Train.jsonl", ROWS))
    summary = data.summary()
    assert (summary["subset"], summary["n_rows"], summary["n_comparisons"], summary["n_prompts"]) == ("annotations", 5, 11, 2)
    # The identical pair is dropped once per annotation: four comparisons.
    assert summary["dropped"] == {UNKNOWN_PREFERENCE: 1, "pair without a usable annotation": 1, "identical responses": 4}
    comparisons = data.comparisons
    assert comparisons["label"].tolist() == [1.0, 0.5, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.5, 0.5]
    assert comparisons[ANNOTATOR_COLUMN].tolist() == ["crowd1", "crowd2", "expert1", "expert2", "crowd1", "crowd3", "expert1",
                                                     "crowd2", "crowd4", "expert2", "expert4"]  # fmt: skip
    assert comparisons["annotator_group"].tolist() == ["crowd", "crowd", "expert", "expert", "crowd", "crowd", "expert", "crowd", "crowd", "expert", "expert"]
    assert comparisons["overall_pref"].iloc[:4].tolist() == ["A-is-clearly-better", "Tie", "B-is-slightly-better", "A-is-slightly-better"]
    assert comparisons["comparison_id"].tolist() == ["c1"] * 4 + ["c2"] * 3 + ["c3"] * 4
    assert comparisons["category"].iloc[-1] == "Brainstorm" and comparisons["source"].iloc[0] == "lmsys/chatbot_arena_conversations"
    # Four judgements of one pair share its prompt and responses and differ by annotator: not duplicates.
    assert len(comparisons[PAIR_KEY].drop_duplicates()) == 3
    assert not comparisons[[*PAIR_KEY, ANNOTATOR_COLUMN]].duplicated().any()


def test_the_aggregate_is_the_majority_of_all_annotations(tmp_path):
    data = load("multipref", data_files=write_jsonl(tmp_path / "MultiPref-Train.jsonl", ROWS), subset="aggregate")
    assert data.subset == "aggregate"
    assert data.accounting.dropped == {UNKNOWN_PREFERENCE: 1, "pair without a usable annotation": 1, "identical responses": 1}
    comparisons = data.comparisons
    assert comparisons["label"].tolist() == [1.0, 0.0, 0.5]  # votes A:B 2:1, 1:2, 1:1 (and two ties)
    assert comparisons[["votes_a", "votes_b", "votes_tie"]].values.tolist() == [[2, 1, 1], [1, 2, 0], [1, 1, 2]]
    assert ANNOTATOR_COLUMN not in comparisons.columns


def test_an_unknown_subset_names_the_subsets(tmp_path):
    with pytest.raises(TypicalityError, match="no subset 'experts'. Its subsets: annotations, aggregate"):
        load("multipref", data_files=write_jsonl(tmp_path / "MultiPref-Train.jsonl", ROWS), subset="experts")
