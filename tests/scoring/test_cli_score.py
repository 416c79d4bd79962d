"""`typicality score`: the command writes the parquet and its card, resumes from the cache, and names a bad model."""

from __future__ import annotations

import json

from typicality.cli import main
from typicality.scoring import load_scores


def write_hh_file(path):
    turns = "\n\nHuman: Can you help me?\n\nAssistant:"
    rows = [
        {"chosen": turns + " Sure, I can help you with that.", "rejected": turns + " No."},
        {"chosen": "\n\nHuman: What is the capital of Italy?\n\nAssistant: Rome.", "rejected": "\n\nHuman: What is the capital of Italy?\n\nAssistant: Paris."},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_score_command_writes_scores_and_resumes(tiny_model_dir, tmp_path, capsys):
    data_file = write_hh_file(tmp_path / "test.jsonl")
    out = tmp_path / "scores.parquet"
    argv = [
        "score",
        "hh-rlhf",
        "--data-files",
        str(data_file),
        "--model",
        str(tiny_model_dir),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "scored 4 of 4 responses" in first and "0 from cache, 4 computed" in first
    result = load_scores(out)
    assert len(result.table) == 4 and result.table["mean_logprob"].notna().all()
    assert (tmp_path / "scores.card.json").exists()
    assert result.card.model == str(tiny_model_dir)

    assert main(argv + ["--batch-tokens", "7"]) == 0
    assert "4 from cache, 0 computed" in capsys.readouterr().out


def test_score_command_names_a_model_that_will_not_load(tmp_path, capsys):
    data_file = write_hh_file(tmp_path / "test.jsonl")
    missing = tmp_path / "no-model-here"
    code = main(["score", "hh-rlhf", "--data-files", str(data_file), "--model", str(missing), "--out", str(tmp_path / "s.parquet")])
    assert code == 2
    error = capsys.readouterr().err
    assert f"Model '{missing}': no such file or folder" in error and "Traceback" not in error
