"""The openbmb/UltraFeedback loader on fixtures in the raw schema (Hub dicts and GitHub lists)."""

from __future__ import annotations

import math

import pytest

from tests.data.files import write_jsonl
from typicality.data import load
from typicality.errors import TypicalityError


def completion(response, overall, fine=4.0, following="4", honesty="4", truthfulness="4", helpfulness="4", listed=False):
    """One completion as in the Hub's parquet: string Ratings inside per-aspect dicts."""
    annotations = {
        "helpfulness": {"Rating": helpfulness, "Rationale": "r", "Rationale For Rating": "rr", "Type": ["1", "2"]},
        "honesty": {"Rating": honesty, "Rationale": "r"},
        "instruction_following": {"Rating": following, "Rationale": "r"},
        "truthfulness": {"Rating": truthfulness, "Rationale": "r", "Rationale For Rating": "rr", "Type": ["0"]},
    }
    if listed:  # the original GitHub release wraps each aspect in a one-element list
        annotations = {aspect: [value] for aspect, value in annotations.items()}
    return {
        "model": "some-model",
        "principle": "helpfulness",
        "custom_system_prompt": "You are a helpful assistant.",
        "response": response,
        "critique": "Fine.",
        "overall_score": overall,
        "fine-grained_score": fine,
        "annotations": annotations,
    }


def instruction(source, text, completions):
    return {
        "source": source,
        "instruction": text,
        "models": [c["model"] for c in completions],
        "completions": completions,
        "correct_answers": ["None"],
        "incorrect_answers": ["None"],
    }


ROWS = [
    instruction(
        "evol_instruct",
        "Name a prime.",
        [
            completion("2", 8.0, 4.5, "5", "5", "5", "4"),
            completion("9", 3.0, 2.0, "2", "3", "1", "2"),
            completion("7", 8.0, 4.75, "5", "5", "N/A", "4"),
            completion("   ", 6.0),  # empty response: dropped
        ],
    ),
    instruction(
        "sharegpt",
        "Say hi.",
        [
            completion("Hi!", 6.0, helpfulness="3"),
            completion("Hello.", 7.0, helpfulness="N/A"),
            completion("Hi!", 5.0),  # the same response again: dropped
        ],
    ),
    instruction("flan_v2_niv2", "Empty.", []),  # no completions: counted
    instruction(
        "false_qa",
        "Why is the sky green?",
        [completion("It is not.", None, helpfulness="2"), completion("Pollen.", 5.0, helpfulness="3")],
    ),
]


@pytest.fixture
def raw_file(tmp_path):
    return write_jsonl(tmp_path / "ultrafeedback.jsonl", ROWS)


def labels_by_text(data):
    text = data.responses.set_index("response_id")["response"]
    return {(text[a], text[b]): label for a, b, label in data.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)}


def test_overall_score_pairs_ties_and_drops(raw_file):
    data = load("ultrafeedback", data_files=raw_file)
    summary = data.summary()
    assert summary["n_rows"] == 4
    assert summary["n_prompts"] == 3  # "Empty." has no completion
    assert summary["n_responses"] == 6  # 3 + 2 + 1
    assert summary["n_comparisons"] == 4  # C(3,2) + C(2,2); the sky has one rated response
    assert summary["n_ties"] == 1
    assert summary["dropped"] == {
        "empty response": 1,
        "response repeated under the same prompt": 1,
        "instruction without completions": 1,
        "missing overall_score rating": 1,
    }
    assert labels_by_text(data) == {("2", "9"): 1.0, ("2", "7"): 0.5, ("9", "7"): 0.0, ("Hi!", "Hello."): 0.0}
    assert data.kind == "rated" and data.correctness == "truthfulness"
    assert set(data.comparisons["source"]) == {"evol_instruct", "sharegpt"}


def test_string_ratings_become_numbers_and_na_becomes_nan(raw_file):
    data = load("ultrafeedback", data_files=raw_file)
    by_text = data.responses.set_index("response")
    assert by_text.loc["2", "truthfulness"] == 5.0 and by_text.loc["9", "instruction_following"] == 2.0
    assert math.isnan(by_text.loc["7", "truthfulness"])  # "N/A": kept as a response, NaN as a control
    assert math.isnan(by_text.loc["Hello.", "helpfulness"])
    assert by_text.loc["7", "fine_grained_score"] == 4.75
    for column in ("overall_score", "fine_grained_score", "instruction_following", "honesty", "truthfulness", "helpfulness"):
        assert data.responses[column].dtype == float


def test_another_rating_column_decides_with_its_own_drops(raw_file):
    data = load("ultrafeedback", data_files=raw_file, rating="helpfulness")
    assert labels_by_text(data) == {("2", "9"): 1.0, ("2", "7"): 0.5, ("9", "7"): 0.0, ("It is not.", "Pollen."): 0.0}
    assert data.accounting.dropped["missing helpfulness rating"] == 1  # "Hello." rated N/A
    assert "missing overall_score rating" not in data.accounting.dropped


def test_unknown_rating_names_the_choices(raw_file):
    with pytest.raises(TypicalityError, match="no rating 'quality'.*overall_score, fine_grained_score"):
        load("ultrafeedback", data_files=raw_file, rating="quality")


def test_github_release_with_listed_annotations(tmp_path):
    rows = [instruction("ultrachat", "Q?", [completion("a", 9.0, truthfulness="2", listed=True), completion("b", 2.0, truthfulness="5", listed=True)])]
    data = load("ultrafeedback", data_files=write_jsonl(tmp_path / "raw.jsonl", rows))
    assert labels_by_text(data) == {("a", "b"): 1.0}
    assert data.responses.set_index("response").loc["b", "truthfulness"] == 5.0


def test_a_repeated_instruction_pools_its_completions_and_says_so(tmp_path):
    rows = [instruction("sharegpt", "Q?", [completion("a", 9.0), completion("b", 2.0)]), instruction("evol_instruct", "Q?", [completion("c", 5.0)])]
    data = load("ultrafeedback", data_files=write_jsonl(tmp_path / "raw.jsonl", rows))
    assert len(data.comparisons) == 3 and data.n_prompts == 1
    assert any("1 row(s) repeat an earlier instruction" in note for note in data.accounting.notes)
