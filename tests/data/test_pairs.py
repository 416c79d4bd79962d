"""The generic `pairs` loader: both layouts, message-list responses, --columns mapping."""

from __future__ import annotations

import pytest

from tests.data.files import assistant, user, write_jsonl, write_parquet
from typicality.data import load
from typicality.errors import TypicalityError


def texts(data):
    table = data.responses.set_index("response_id")
    return [
        (table.loc[a, "prompt"], table.loc[a, "response"], table.loc[b, "response"], label)
        for a, b, label in data.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)
    ]


def test_chosen_rejected_layout_with_metadata(tmp_path):
    rows = [
        {"prompt": "Q1", "chosen": "good", "rejected": "bad", "domain": "math"},
        {"prompt": "Q1", "chosen": "good", "rejected": "worse", "domain": "math"},
        {"prompt": "", "chosen": "x", "rejected": "y", "domain": "math"},  # empty prompt
        {"prompt": "Q2", "chosen": "same", "rejected": "same", "domain": "code"},  # identical
        {"prompt": "Q3", "chosen": "yes", "rejected": "no", "domain": "code"},
    ]
    data = load("pairs", data_files=write_jsonl(tmp_path / "pairs.jsonl", rows))
    assert texts(data) == [("Q1", "good", "bad", 1.0), ("Q1", "good", "worse", 1.0), ("Q3", "yes", "no", 1.0)]
    assert data.comparisons["domain"].tolist() == ["math", "math", "code"]
    assert len(data.responses) == 5 and data.n_prompts == 2
    assert dict(data.accounting.dropped) == {"empty prompt": 1, "identical responses": 1}


def test_labelled_layout_keeps_ties_and_counts_missing_labels(tmp_path):
    rows = [
        {"prompt": "Q", "response_a": "a", "response_b": "b", "label": 1},
        {"prompt": "Q", "response_a": "a", "response_b": "c", "label": 0},
        {"prompt": "Q", "response_a": "b", "response_b": "c", "label": 0.5},
        {"prompt": "Q", "response_a": "c", "response_b": "d", "label": None},
    ]
    data = load("pairs", data_files=write_jsonl(tmp_path / "pairs.jsonl", rows))
    assert [row[3] for row in texts(data)] == [1.0, 0.0, 0.5]
    assert data.summary()["n_ties"] == 1
    assert dict(data.accounting.dropped) == {"missing label": 1}


def test_message_list_responses_need_no_prompt_column(tmp_path):
    rows = [
        {"chosen": [user("Hi"), assistant("Hello!")], "rejected": [user("Hi"), assistant("Go away.")], "source": "x"},
        {"chosen": [user("Hi"), assistant("Hey"), user("Bye")], "rejected": [user("Hi"), assistant("Hey"), user("Bye"), assistant("Ciao")]},
    ]
    data = load("pairs", data_files=write_parquet(tmp_path / "train.parquet", rows))
    assert texts(data) == [("Hi", "Hello!", "Go away.", 1.0)]
    assert dict(data.accounting.dropped) == {"conversation does not end with an assistant turn": 1}


def test_columns_map_other_names(tmp_path):
    rows = [{"question": "Q", "good": "yes", "bad": "no"}]
    data = load("pairs", data_files=write_jsonl(tmp_path / "p.jsonl", rows), columns={"prompt": "question", "chosen": "good", "rejected": "bad"})
    assert texts(data) == [("Q", "yes", "no", 1.0)]


def test_wrong_columns_name_both_layouts(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"question": "Q", "good": "yes"}])
    with pytest.raises(TypicalityError, match="expected columns prompt, chosen, rejected or prompt, response_a, response_b, label; found question, good"):
        load("pairs", data_files=path)


def test_text_responses_without_prompt_column(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"chosen": "yes", "rejected": "no"}])
    with pytest.raises(TypicalityError, match="missing column prompt"):
        load("pairs", data_files=path)


def test_labels_outside_0_half_1_are_an_error(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Q", "response_a": "a", "response_b": "b", "label": "A"}])
    with pytest.raises(TypicalityError, match="1 labels are not .*found 'A'"):
        load("pairs", data_files=path)


def test_no_data_files_says_how_to_give_them():
    with pytest.raises(TypicalityError, match="pass --data-files PATH"):
        load("pairs")


def test_labelled_layout_with_ties_and_an_extra_column_through_the_cli(tmp_path, capsys):
    """The layout of many public human-preference files: prompt, response_a, response_b, label (0.5 = tie), plus a per-pair column."""
    import json

    from typicality.cli import main

    rows = [
        {"prompt": "Name a colour.", "response_a": "Blue.", "response_b": "A colour.", "label": 1, "annotator": "w1"},
        {"prompt": "Name a colour.", "response_a": "Red.", "response_b": "Blue.", "label": 0.5, "annotator": "w2"},
        {"prompt": "2+2?", "response_a": "5", "response_b": "4", "label": 0, "annotator": "w1"},
        {"prompt": "2+2?", "response_a": "4", "response_b": "Four", "label": 0.5, "annotator": "w3"},
        {"prompt": "Hi", "response_a": "Hello", "response_b": "Hello", "label": 0.5, "annotator": "w2"},  # identical: dropped
    ]
    path = write_jsonl(tmp_path / "my_prefs.jsonl", rows)
    data = load("pairs", data_files=path)
    kept = rows[:4]
    assert texts(data) == [(r["prompt"], r["response_a"], r["response_b"], float(r["label"])) for r in kept]
    assert data.comparisons["annotator"].tolist() == [r["annotator"] for r in kept]
    assert data.title == "my_prefs.jsonl" and data.preference_rating is None

    assert main(["inspect", "pairs", "--data-files", path, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # Counted by hand from `rows`: 2 prompts with pairs, 6 distinct responses ("Blue." twice under one prompt), 4 pairs, 2 ties, 1 drop.
    assert (summary["n_rows"], summary["n_prompts"], summary["n_responses"], summary["n_comparisons"], summary["n_ties"]) == (5, 2, 6, 4, 2)
    assert summary["dropped"] == {"identical responses": 1}
    assert summary["title"] == "my_prefs.jsonl"
