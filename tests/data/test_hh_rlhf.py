"""The HH-RLHF loader on a hand-written fixture in the original schema, and on the real test splits."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import shared_file
from typicality.data import load
from typicality.data.sources.hh_rlhf import split_transcript


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return str(path)


def transcript(*turns):
    return "".join(f"\n\n{speaker}: {text}" for speaker, text in turns)


def test_prompt_is_everything_up_to_the_last_assistant_tag():
    text = transcript(("Human", "Hi"), ("Assistant", "Hello"), ("Human", "Bye"), ("Assistant", "See you"))
    prompt, response = split_transcript(text)
    assert prompt == "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bye\n\nAssistant:"
    assert response == " See you"


def test_fixture_counts_and_drops(tmp_path):
    shared = transcript(("Human", "What is 2+2?"), ("Assistant", ""))[:-1]  # ends with "Assistant:"
    rows = [
        {"chosen": shared + " Four.", "rejected": shared + " Five."},  # kept
        {"chosen": shared + " 4", "rejected": shared + " 4"},  # identical: dropped
        {"chosen": transcript(("Human", "A"), ("Assistant", "x")), "rejected": transcript(("Human", "B"), ("Assistant", "y"))},  # prompts differ
        {"chosen": shared + " ", "rejected": shared + " Five."},  # empty response
        {"chosen": "\n\nHuman: no assistant", "rejected": "\n\nHuman: no assistant either"},  # no assistant turn
        {"chosen": transcript(("Human", "Hi"), ("Assistant", "Yo")), "rejected": transcript(("Human", "Hi"), ("Assistant", "Hey"))},  # kept
    ]
    data = load("hh-rlhf", data_files=write_jsonl(tmp_path / "test.jsonl", rows))
    summary = data.summary()
    assert summary["n_rows"] == 6
    assert summary["n_comparisons"] == 2
    assert summary["n_prompts"] == 2
    assert summary["n_responses"] == 4
    assert summary["n_ties"] == 0
    assert summary["dropped"] == {
        "identical responses": 1,
        "chosen and rejected prompts differ": 1,
        "empty response": 1,
        "no '\\n\\nAssistant:' turn": 1,
    }
    assert (data.comparisons["label"] == 1.0).all()
    chosen = data.responses.set_index("response_id").loc[data.comparisons["response_a"], "response"].tolist()
    assert chosen == [" Four.", " Yo"]


@pytest.mark.slow
def test_real_helpful_base_test_split():
    path = shared_file("hh-rlhf", "helpful-base", "test.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    identical = sum(row["chosen"] == row["rejected"] for row in rows)
    data = load("hh-rlhf", data_files=str(path))
    assert data.accounting.rows_read == 2354
    assert data.accounting.dropped["identical responses"] == identical > 0
    assert len(data.comparisons) + sum(data.accounting.dropped.values()) == 2354
    assert data.responses["prompt"].str.endswith("\n\nAssistant:").all()


@pytest.mark.slow
def test_real_harmless_base_test_split():
    path = shared_file("hh-rlhf", "harmless-base", "test.jsonl.gz")
    data = load("hh-rlhf", subset="harmless-base", data_files=str(path))
    assert data.accounting.rows_read == 2312
    assert len(data.comparisons) + sum(data.accounting.dropped.values()) == 2312
    assert data.responses["prompt"].str.endswith("\n\nAssistant:").all()


def test_limit_samples_whole_prompt_groups_reproducibly(tmp_path):
    rows = []
    for index in range(20):
        prompt = transcript(("Human", f"Question {index}?"), ("Assistant", ""))[:-1]
        rows.append({"chosen": prompt + f" Yes {index}", "rejected": prompt + f" No {index}"})
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    first = load("hh-rlhf", data_files=path, limit=5, seed=3)
    again = load("hh-rlhf", data_files=path, limit=5, seed=3)
    other = load("hh-rlhf", data_files=path, limit=5, seed=4)
    assert first.n_prompts == 5 and len(first.comparisons) == 5 and len(first.responses) == 10
    assert sorted(first.responses["prompt_id"]) == sorted(again.responses["prompt_id"])
    assert sorted(first.responses["prompt_id"]) != sorted(other.responses["prompt_id"])
    assert set(first.comparisons["prompt_id"]) == set(first.responses["prompt_id"])


def test_data_folder_round_trip(tmp_path):
    from pandas.testing import assert_frame_equal

    from typicality.audit_folder import load_data, save_data

    prompt = "\n\nHuman: Hi\n\nAssistant:"
    path = write_jsonl(tmp_path / "t.jsonl", [{"chosen": prompt + " a", "rejected": prompt + " b"}, {"chosen": prompt + " c", "rejected": prompt + " c"}])
    data = load("hh-rlhf", data_files=path)
    save_data(data, tmp_path / "folder")
    again = load_data(tmp_path / "folder")
    assert_frame_equal(data.responses, again.responses)
    assert_frame_equal(data.comparisons, again.comparisons)
    assert again.summary() == data.summary()
