"""The generic `ratings` loader: preference column choice, NaN ratings, correctness."""

from __future__ import annotations

import math

import pytest

from tests.data.files import write_jsonl
from typicality.data import load
from typicality.errors import TypicalityError

ROWS = [
    {"prompt": "Q1", "response": "a", "helpfulness": 3, "correctness": 2, "annotator": "x"},
    {"prompt": "Q1", "response": "b", "helpfulness": 1, "correctness": 2, "annotator": "y"},
    {"prompt": "Q1", "response": "c", "helpfulness": 3, "correctness": None, "annotator": "x"},
    {"prompt": "Q2", "response": "d", "helpfulness": None, "correctness": 4, "annotator": "y"},  # NaN preference
    {"prompt": "Q2", "response": "e", "helpfulness": 2, "correctness": 1, "annotator": "x"},
    {"prompt": "Q2", "response": "", "helpfulness": 4, "correctness": 1, "annotator": "x"},  # empty
]


def test_rating_choice_pairs_and_drops(tmp_path):
    data = load("ratings", data_files=write_jsonl(tmp_path / "r.jsonl", ROWS), rating="helpfulness")
    summary = data.summary()
    assert summary["n_comparisons"] == 3  # C(3,2) under Q1; Q2 keeps only "e"
    assert summary["n_ties"] == 1
    assert summary["dropped"] == {"missing helpfulness rating": 1, "empty response": 1}
    assert data.rating_columns == ["helpfulness", "correctness"]  # the text column `annotator` is not a rating
    assert data.correctness == "correctness"
    assert math.isnan(data.responses.set_index("response").loc["c", "correctness"])
    assert data.comparisons["label"].tolist() == [1.0, 0.5, 0.0]


def test_several_numeric_columns_need_rating(tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", ROWS)
    with pytest.raises(TypicalityError, match="pass --rating COLUMN.*numeric columns: helpfulness, correctness"):
        load("ratings", data_files=path)


def test_a_single_numeric_column_is_the_default(tmp_path):
    rows = [{"prompt": "Q", "response": "a", "score": 0.9}, {"prompt": "Q", "response": "b", "score": 0.1}]
    data = load("ratings", data_files=write_jsonl(tmp_path / "r.jsonl", rows))
    assert data.preference == "higher score rating" and data.comparisons["label"].tolist() == [1.0]
    assert data.correctness is None


def test_numbers_written_as_text_are_read_and_na_dropped(tmp_path):
    rows = [{"prompt": "Q", "response": r, "stars": s} for r, s in (("a", "5"), ("b", "2"), ("c", "N/A"))]
    data = load("ratings", data_files=write_jsonl(tmp_path / "r.jsonl", rows), rating="stars")
    assert data.comparisons["label"].tolist() == [1.0]
    assert dict(data.accounting.dropped) == {"missing stars rating": 1}


def test_unknown_or_textual_rating_column(tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", ROWS)
    with pytest.raises(TypicalityError, match="--rating stars names no rating column; found prompt, response"):
        load("ratings", data_files=path, rating="stars")
    with pytest.raises(TypicalityError, match="'annotator' holds no numbers"):
        load("ratings", data_files=path, rating="annotator")
