"""The `helpsteer2` and `chatbot-arena` loaders on real slices of the original files in ../shared/data,
with every count computed a second way (plain json, no loader code) and checked by hand; and every
fixture's schema compared, field for field, with the real file's.

Hand-checked with jq (e.g. `jq -s 'group_by(.prompt) | map(select(.[0].helpfulness == .[1].helpfulness)) | length'`):
- helpsteer2/train-first100.jsonl: 100 rows = 50 prompts x 2 responses, no blank text, no response
  repeated under its prompt, no `<extra_id_1>` turns; 21 of the 50 pairs tie on helpfulness.
- chatbot-arena/conversations-sample5.json: 5 single-turn battles with 5 distinct questions;
  winners model_b, tie, model_b, model_b, model_a; nothing dropped.
"""

from __future__ import annotations

import json
from collections import Counter

from tests.conftest import shared_file
from tests.data import test_chatbot_arena, test_helpsteer
from typicality.data import load
from typicality.domain import ANNOTATOR_COLUMN

HELPSTEER2 = ("helpsteer2", "train-first100.jsonl")
ARENA = ("chatbot-arena", "conversations-sample5.json")
WINNER_LABELS = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


def schema(value):
    """A value's shape: dict keys (recursively), list element shape, else the type name."""
    if isinstance(value, dict):
        return {key: schema(item) for key, item in value.items()}
    if isinstance(value, list):
        return [schema(value[0])] if value else []
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def labelled_pairs(data) -> list[tuple[str, str, str, float]]:
    table = data.responses.set_index("response_id")
    return [
        (table.loc[a, "prompt"], table.loc[a, "response"], table.loc[b, "response"], label)
        for a, b, label in data.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)
    ]


def test_helpsteer2_first_100_train_rows():
    path = shared_file(*HELPSTEER2)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    data = load("helpsteer2", data_files=str(path))
    summary = data.summary()

    # Hand-checked counts.
    assert (summary["n_rows"], summary["n_prompts"], summary["n_responses"], summary["n_comparisons"], summary["n_ties"]) == (100, 50, 100, 50, 21)
    assert summary["dropped"] == {} and summary["notes"] == []

    # The same counts and labels, a second way: group the raw rows by prompt in file order.
    by_prompt: dict[str, list[dict]] = {}
    for row in rows:
        by_prompt.setdefault(row["prompt"], []).append(row)
    expected = []
    for prompt, group in by_prompt.items():
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                diff = group[i]["helpfulness"] - group[j]["helpfulness"]
                expected.append((prompt, group[i]["response"], group[j]["response"], 1.0 if diff > 0 else 0.0 if diff < 0 else 0.5))
    assert labelled_pairs(data) == expected
    assert len(by_prompt) == summary["n_prompts"] and len(rows) == summary["n_responses"]
    assert sum(label == 0.5 for *_, label in expected) == summary["n_ties"]
    assert data.preference_rating == "helpfulness" and data.correctness == "correctness"
    ratings = data.responses.set_index("response")[list(test_helpsteer.RATINGS)]
    assert all(ratings.loc[row["response"]].tolist() == [row[name] for name in test_helpsteer.RATINGS] for row in rows)


def test_chatbot_arena_sample_of_5_battles():
    path = shared_file(*ARENA)
    battles = json.loads(path.read_text(encoding="utf-8"))
    data = load("chatbot-arena", data_files=str(path))
    summary = data.summary()

    # Hand-checked counts.
    assert (summary["n_rows"], summary["n_prompts"], summary["n_responses"], summary["n_comparisons"], summary["n_ties"]) == (5, 5, 10, 5, 1)
    assert summary["dropped"] == {}
    assert data.comparisons["label"].tolist() == [0.0, 0.5, 0.0, 0.0, 1.0]

    # A second way: the question is the single user turn, the responses the last assistant turns.
    expected = [
        (b["conversation_a"][0]["content"], b["conversation_a"][-1]["content"], b["conversation_b"][-1]["content"], WINNER_LABELS[b["winner"]])
        for b in battles
    ]
    assert all(len(b["conversation_a"]) == len(b["conversation_b"]) == 2 for b in battles)  # single turn: nothing to drop
    assert labelled_pairs(data) == expected
    assert Counter(label for *_, label in expected)[0.5] == summary["n_ties"]
    for column in ("winner", "model_a", "model_b", "language", "turn"):
        assert data.comparisons[column].tolist() == [b[column] for b in battles]
    assert data.comparisons[ANNOTATOR_COLUMN].tolist() == [b["judge"] for b in battles]
    assert data.title == "Chatbot Arena (train)"


def test_fixtures_match_the_original_schemas_field_for_field():
    arena = json.loads(shared_file(*ARENA).read_text(encoding="utf-8"))
    fixture_battle = test_chatbot_arena.ROWS[0]
    assert list(fixture_battle) == list(arena[0])  # the same fields in the same order
    assert schema(fixture_battle) == schema(arena[0])
    helpsteer2 = json.loads(shared_file(*HELPSTEER2).read_text(encoding="utf-8").splitlines()[0])
    fixture_row = test_helpsteer.ROWS[0]
    assert list(fixture_row) == list(helpsteer2) and schema(fixture_row) == schema(helpsteer2)
