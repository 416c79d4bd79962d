"""The openai/summarize_from_feedback comparisons loader on a fixture in OpenAI's raw JSON lines (`comparisons/batch*.json`)."""

from __future__ import annotations

import math

import pytest

from tests.data.files import write_jsonl
from typicality.data import load
from typicality.data.sources import summarize_from_feedback
from typicality.domain import ANNOTATOR_COLUMN
from typicality.errors import TypicalityError

POST = "My boyfriend forgets our plans every week and I don't know how to bring it up."
ARTICLE = "The council approved the new bridge on Tuesday after a long debate."


def record(info, texts, choice, worker, batch, split, extra=None, policies=("sup2", "ref")):
    """One comparison as OpenAI released it: optional keys (extra.confidence, info.post/article/...) left out when absent."""
    return {
        "info": info,
        "summaries": [{"text": text, "policy": policy, "note": None} for text, policy in zip(texts, policies)],
        "choice": choice,
        "worker": worker,
        "batch": batch,
        "split": split,
        "extra": extra or {},
    }


REDDIT = {"id": "t3_1a2b3c", "subreddit": "relationships", "title": "Boyfriend forgets plans", "post": POST}
RECORDS = [
    record(REDDIT, [" He forgets plans.", " Boyfriend forgets our plans, how to talk about it?"], 1, "w_13", "batch3", "train"),
    record(REDDIT, [" How do I tell him?", " He keeps forgetting."], 0, "w_2", "batch10", "train", {"confidence": 8}, ("pretrain", "sup1")),
    record({"id": "cnn_9", "site": "dailymail", "title": "Bridge approved", "article": ARTICLE},
           [" Council approves bridge.", " A bridge."], 0, "w_5", "cnndm0", "valid1", {"confidence": 6}),  # fmt: skip
    record(REDDIT, [" Same text.", " Same text."], 0, "w_13", "batch3", "train"),
    record({"id": "t3_zz", "subreddit": "tifu", "title": "No body"}, [" a", " b"], 1, "w_7", "batch4", "train"),
    record(REDDIT, [" Plans forgotten.", " He forgets."], 1, "w_2", "batch11", "valid2", {"confidence": 3}),
    record(REDDIT, [" Forgetful.", " Plans."], None, "w_9", "batch12", "train"),  # no choice recorded
]
TLDR_PROMPT = f"SUBREDDIT: r/relationships\n\nTITLE: Boyfriend forgets plans\n\nPOST: {POST}\n\nTL;DR:"


def test_train_split_labels_prompt_format_metadata_and_drops(tmp_path):
    data = load("summarize-from-feedback", data_files=write_jsonl(tmp_path / "batch3.json", RECORDS))
    summary = data.summary()
    assert (summary["split"], summary["n_rows"], summary["n_comparisons"], summary["n_prompts"]) == ("train", 5, 2, 1)
    assert summary["dropped"] == {"identical responses": 1, "no post or article text": 1, "choice not 0 or 1": 1}
    assert summary["notes"] == ["2 records of other splits were not read (valid1: 1, valid2: 1)."]
    comparisons = data.comparisons
    assert comparisons["label"].tolist() == [0.0, 1.0]  # choice 1 -> summaries[1] (response_b) preferred; choice 0 -> response_a
    assert comparisons[ANNOTATOR_COLUMN].tolist() == ["w_13", "w_2"]
    assert comparisons["batch"].tolist() == ["batch3", "batch10"]
    assert math.isnan(comparisons["confidence"].iloc[0]) and comparisons["confidence"].iloc[1] == 8  # batch3 had no confidence
    assert comparisons["policy_a"].tolist() == ["sup2", "pretrain"]
    assert comparisons["policy_b"].tolist() == ["ref", "sup1"]
    assert comparisons["subreddit"].tolist() == ["relationships", "relationships"]
    assert comparisons["post_id"].tolist() == ["t3_1a2b3c", "t3_1a2b3c"]
    texts = dict(zip(data.responses["response_id"], data.responses["response"]))
    assert texts[comparisons["response_b"].iloc[0]] == " Boyfriend forgets our plans, how to talk about it?"  # verbatim, leading space kept
    assert set(data.responses["prompt"]) == {TLDR_PROMPT}


def test_validation_joins_valid1_and_valid2_and_renders_articles(tmp_path):
    data = load("summarize-from-feedback", data_files=write_jsonl(tmp_path / "batch3.json", RECORDS), split="validation")
    assert (data.accounting.rows_read, len(data.comparisons), dict(data.accounting.dropped)) == (2, 2, {})
    assert data.comparisons["label"].tolist() == [1.0, 0.0]
    assert data.comparisons["site"].iloc[0] == "dailymail" and data.comparisons["site"].isna().iloc[1]
    prompts = dict(zip(data.responses["prompt_id"], data.responses["prompt"]))
    assert prompts[data.comparisons["prompt_id"].iloc[0]] == f"Article:\n{ARTICLE}\n\nTL;DR:"
    only_valid2 = load("summarize-from-feedback", data_files=write_jsonl(tmp_path / "batch3.json", RECORDS), split="valid2")
    assert only_valid2.comparisons[ANNOTATOR_COLUMN].tolist() == ["w_2"]


def test_without_files_it_reads_openais_raw_batches(monkeypatch):
    seen = {}

    def fake_read_rows(request, hub_id, required, split, features=None):
        seen["files"] = request.data_files
        raise TypicalityError("stop here")

    monkeypatch.setattr(summarize_from_feedback, "read_rows", fake_read_rows)
    with pytest.raises(TypicalityError, match="stop here"):
        load("summarize-from-feedback")
    assert len(seen["files"]) == 23
    assert seen["files"][0] == "https://openaipublic.blob.core.windows.net/summarize-from-feedback/dataset/comparisons/batch3.json"


def test_an_unknown_split_names_the_splits(tmp_path):
    with pytest.raises(TypicalityError, match="no split 'test'. Its splits: train, validation, valid1, valid2"):
        load("summarize-from-feedback", data_files=write_jsonl(tmp_path / "batch3.json", RECORDS), split="test")


def test_batches_whose_records_have_different_optional_keys_read_together(tmp_path):
    # A news batch's info has article and site, a Reddit batch's post and subreddit; only one of them has extra.confidence.
    reddit = write_jsonl(tmp_path / "batch11.json", [RECORDS[5]])
    news = write_jsonl(tmp_path / "cnndm0.json", [{**RECORDS[2], "extra": {}}])
    data = load("summarize-from-feedback", data_files=[reddit, news], split="validation")
    assert data.comparisons["batch"].tolist() == ["batch11", "cnndm0"]
    assert data.comparisons["confidence"].iloc[0] == 3 and data.comparisons["confidence"].isna().iloc[1]
