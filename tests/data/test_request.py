"""`LoadRequest`: every mistake knowable before reading is refused when it is built (or, for the files, by `preflight()`), with one clear message."""

from __future__ import annotations

import json

import pytest

from tests.data.files import write_jsonl
from typicality.cli import build_parser, loader_arguments
from typicality.data import LoadRequest, load, load_request, parse_columns
from typicality.errors import TypicalityError

PROMPT = "\n\nHuman: Hi\n\nAssistant:"


@pytest.fixture
def hh_file(tmp_path):
    return write_jsonl(tmp_path / "test.jsonl", [{"chosen": PROMPT + " a", "rejected": PROMPT + " b"}, {"chosen": PROMPT + " c", "rejected": PROMPT + " d"}])


def refusal(*args, **settings) -> str:
    with pytest.raises(TypicalityError) as caught:
        LoadRequest(*args, **settings).preflight()
    return str(caught.value)


def test_a_good_request_passes_and_is_returned(hh_file):
    request = LoadRequest("hh-rlhf", data_files=(hh_file,), subset="harmless-base", limit=1)
    assert request.preflight() is request


def test_unknown_dataset_lists_the_known_ones():
    assert refusal("hh_rlhf").startswith("Unknown dataset 'hh_rlhf'. Known datasets: arena-human-preference, chatbot-arena, helpsteer,")


def test_missing_file(tmp_path):
    missing = str(tmp_path / "nowhere.jsonl")
    assert refusal("pairs", data_files=(missing,)) == f"No such file: {missing} (--data-files). Check the path."


@pytest.mark.parametrize("limit", [0, -3, 2.5, True])
def test_limit_must_be_a_positive_whole_number(hh_file, limit):
    assert "--limit must be a whole number of prompts, at least 1" in refusal("hh-rlhf", data_files=(hh_file,), limit=limit)


def test_unknown_subset_of_a_loader_that_declares_subsets(hh_file):
    message = refusal("hh-rlhf", data_files=(hh_file,), subset="helpful")
    assert message == "Dataset 'hh-rlhf' has no subset 'helpful'. Its subsets: helpful-base, harmless-base, helpful-online, helpful-rejection-sampled."


def test_rating_for_a_pairwise_loader(hh_file):
    message = refusal("hh-rlhf", data_files=(hh_file,), rating="helpfulness")
    assert "is pairwise" in message and "--rating applies only to rated sources" in message


def test_rating_the_source_does_not_have():
    message = refusal("helpsteer2", rating="stars")
    assert message == "Dataset 'helpsteer2' has no rating 'stars' for --rating. Choose from: helpfulness, correctness, coherence, complexity, verbosity."


def test_generic_loaders_need_a_file_and_take_any_rating_name(tmp_path):
    assert "pass --data-files PATH" in refusal("pairs")
    path = write_jsonl(tmp_path / "r.jsonl", [{"prompt": "Q", "response": "a", "stars": 1}])
    assert LoadRequest("ratings", data_files=(path,), rating="stars").preflight()  # the column is checked on reading


def test_revision_with_local_files(hh_file):
    assert "--revision v1 picks a version of a hub dataset" in refusal("hh-rlhf", data_files=(hh_file,), revision="v1")


def test_unknown_file_type_and_mixed_formats(tmp_path, hh_file):
    text = tmp_path / "pairs.txt"
    text.write_text("x", encoding="utf-8")
    assert "unknown file type '.txt'" in refusal("pairs", data_files=(str(text),))
    csv = tmp_path / "more.csv"
    csv.write_text("prompt,chosen,rejected\nQ,a,b\n", encoding="utf-8")
    assert "--data-files mixes formats (csv, json)" in refusal("pairs", data_files=(hh_file, str(csv)))


def test_dict_round_trip_is_json_able(hh_file):
    request = LoadRequest("hh-rlhf", data_files=(hh_file,), subset="helpful-base", limit=5, seed=3, columns={"chosen": "good"}, rating=None)
    as_dict = json.loads(json.dumps(request.to_dict()))
    assert as_dict["data_files"] == [hh_file]
    assert LoadRequest.from_dict(as_dict) == request
    with pytest.raises(TypicalityError, match="Unknown load option"):
        LoadRequest.from_dict({**as_dict, "limt": 5})


def test_one_path_or_a_list_becomes_a_tuple(hh_file):
    assert LoadRequest("hh-rlhf", data_files=hh_file).data_files == (hh_file,)
    assert LoadRequest("hh-rlhf", data_files=[hh_file]).data_files == (hh_file,)


def test_load_takes_a_request_or_keywords_alike(hh_file):
    by_keywords = load("hh-rlhf", data_files=hh_file, limit=1, seed=4)
    by_request = load(LoadRequest("hh-rlhf", data_files=(hh_file,), limit=1, seed=4))
    assert by_keywords.responses.equals(by_request.responses)
    assert by_keywords.subset == by_request.subset == "helpful-base"  # the loader's default subset
    assert load_request(LoadRequest("hh-rlhf", data_files=(hh_file,))).comparisons.shape[0] == 2
    with pytest.raises(TypicalityError, match="also given: limit"):
        load(LoadRequest("hh-rlhf", data_files=(hh_file,)), limit=1)


def test_the_cli_builds_the_same_request(hh_file):
    argv = ["inspect", "hh-rlhf", "--data-files", hh_file, "--subset", "helpful-base", "--limit", "1", "--seed", "2", "--columns", "chosen=chosen"]
    request = loader_arguments(build_parser().parse_args(argv))
    assert request == LoadRequest("hh-rlhf", data_files=(hh_file,), subset="helpful-base", limit=1, seed=2, columns={"chosen": "chosen"})


def test_parse_columns():
    assert parse_columns("prompt=question, chosen=good") == {"prompt": "question", "chosen": "good"}
    for bad in ("prompt", "prompt=", "=question"):
        with pytest.raises(TypicalityError, match="--columns expects new=old"):
            parse_columns(bad)
