"""Bad input through the CLI: one clear message and exit code 2, or a counted drop; never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.data.files import write_jsonl
from tests.data.test_ultrafeedback import completion, instruction
from typicality.cli import main
from typicality.data.registry import LOADERS

KNOWN = ", ".join(sorted(LOADERS))  # every registered name, in order


def error_of(capsys, argv) -> str:
    """Run the CLI, check it failed cleanly, and return its one error line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("typicality: error:")]
    assert len(lines) == 1, err
    return lines[0]


def inspect_json(capsys, argv) -> dict:
    assert main(["inspect", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_missing_file(tmp_path, capsys):
    missing = str(tmp_path / "nowhere.jsonl")
    assert error_of(capsys, ["inspect", "pairs", "--data-files", missing]) == f"typicality: error: No such file: {missing} (--data-files). Check the path."


def test_malformed_json_line_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"prompt": "Q", "chosen": "a", "rejected": "b"}\n{"prompt": "Q", "chosen": "a", \n', encoding="utf-8")
    message = error_of(capsys, ["inspect", "pairs", "--data-files", str(path)])
    assert f"{path}, line 2: malformed JSON" in message


def test_non_utf8_bytes_name_file_and_line(tmp_path, capsys):
    path = tmp_path / "train.jsonl"
    good = json.dumps({"prompt": "Q", "chosen": "a", "rejected": "b"}).encode()
    path.write_bytes(good + b"\n" + good + b"\n" + good.replace(b'"a"', b'"caf\xe9"') + b"\n")
    message = error_of(capsys, ["inspect", "pairs", "--data-files", str(path)])
    assert f"{path}, line 3: not UTF-8 text" in message


def test_non_utf8_bytes_in_csv(tmp_path, capsys):
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"prompt,response,score\nQ,a,1\nQ,b\xff,2\n")
    assert f"{path}, line 3: not UTF-8 text" in error_of(capsys, ["inspect", "ratings", "--data-files", str(path)])


def test_missing_column_names_expected_and_found(tmp_path, capsys):
    path = write_jsonl(tmp_path / "hh.jsonl", [{"chosen": "\n\nHuman: Hi\n\nAssistant: Yo", "other": 1}])
    message = error_of(capsys, ["inspect", "hh-rlhf", "--data-files", path])
    assert "missing column(s) rejected. Expected chosen, rejected; found chosen, other." in message


def test_missing_column_of_a_rated_source(tmp_path, capsys):
    path = write_jsonl(tmp_path / "hs.jsonl", [{"prompt": "Q", "response": "a", "helpfulness": 3}])
    message = error_of(capsys, ["inspect", "helpsteer", "--data-files", path])
    assert "missing column(s) correctness, coherence, complexity, verbosity" in message
    assert "found prompt, response, helpfulness" in message


def test_unknown_dataset_lists_the_known_ones(capsys):
    assert error_of(capsys, ["inspect", "nope"]) == f"typicality: error: Unknown dataset 'nope'. Known datasets: {KNOWN}."


def test_nan_ratings_are_a_counted_drop(tmp_path, capsys):
    rows = [
        instruction("sharegpt", "Q?", [completion("a", 9.0, helpfulness="4"), completion("b", 7.0, helpfulness="N/A"), completion("c", 1.0, helpfulness="2")])
    ]
    path = write_jsonl(tmp_path / "uf.jsonl", rows)
    summary = inspect_json(capsys, ["ultrafeedback", "--data-files", path, "--rating", "helpfulness"])
    assert summary["dropped"] == {"missing helpfulness rating": 1}
    assert summary["n_responses"] == 2 and summary["n_comparisons"] == 1


def test_empty_texts_are_a_counted_drop(tmp_path, capsys):
    rows = [
        {"prompt": "Q", "chosen": "a", "rejected": "b"},
        {"prompt": "Q", "chosen": "", "rejected": "b"},
        {"prompt": "Q", "chosen": "a", "rejected": " \n"},
        {"prompt": "  ", "chosen": "a", "rejected": "b"},
    ]
    summary = inspect_json(capsys, ["pairs", "--data-files", write_jsonl(tmp_path / "p.jsonl", rows)])
    assert summary["dropped"] == {"empty response": 2, "empty prompt": 1}
    assert summary["n_rows"] == 4 and summary["n_comparisons"] == 1


def test_nothing_usable_is_an_error_that_lists_the_drops(tmp_path, capsys):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "", "rejected": "b"}])
    message = error_of(capsys, ["inspect", "pairs", "--data-files", path])
    assert "gave no usable pairs (1 rows read; dropped: empty response: 1)" in message


def test_bad_rating_name(tmp_path, capsys):
    path = write_jsonl(tmp_path / "uf.jsonl", [instruction("sharegpt", "Q?", [completion("a", 9.0)])])
    assert "has no rating 'stars' for --rating. Choose from: overall_score" in error_of(
        capsys, ["inspect", "ultrafeedback", "--data-files", path, "--rating", "stars"]
    )


def test_unknown_file_type(tmp_path, capsys):
    path = tmp_path / "pairs.txt"
    path.write_text("hello", encoding="utf-8")
    assert "unknown file type '.txt'" in error_of(capsys, ["inspect", "pairs", "--data-files", str(path)])


def test_a_hub_file_path_is_handed_to_datasets(tmp_path):
    """hf:// paths skip the local-file check; offline mode makes the failure quick and certain."""
    url = "hf://datasets/owner/name/data/train.parquet"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "typicality.cli", "inspect", "pairs", "--data-files", url], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"typicality: error: Could not read {url} as parquet:" in done.stderr
