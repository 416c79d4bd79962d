"""`typicality datasets` and `typicality inspect` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

from tests.data.files import write_jsonl
from typicality.cli import main
from typicality.data.registry import BUILT_IN

LOADERS = {spec.name for spec in BUILT_IN}


def test_datasets_json_lists_every_loader(capsys):
    assert main(["datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["name"] for row in rows} == LOADERS
    for row in rows:
        assert set(row) == {"name", "hub_id", "kind", "subsets", "preference", "annotator", "controls"}
        assert row["kind"] in ("pairwise", "rated") and row["preference"]
    assert {"arena-human-preference", "helpsteer3", "pku-saferlhf", "stack-exchange-preferences"} <= LOADERS
    by_name = {row["name"]: row for row in rows}
    assert by_name["ultrafeedback"]["controls"] == ["truthfulness", "honesty"]
    assert by_name["helpsteer"]["hub_id"] == "nvidia/HelpSteer" and by_name["pairs"]["hub_id"] is None
    # The sources that name who judged say so; the README's row names the same field.
    annotated = {row["name"] for row in rows if row["annotator"]}
    assert annotated == {"arena-human-preference", "chatbot-arena", "mt-bench-human", "multipref", "summarize-from-feedback"}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in annotated:
        field = by_name[name]["annotator"].split()[0]
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}`"))
        assert f"annotator = `{field}`" in row, name


def test_datasets_table_names_every_loader(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in LOADERS:
        assert name in out
    assert "lmsys/chatbot_arena_conversations" in out


def test_inspect_json_counts(tmp_path, capsys):
    rows = [
        {"prompt": "Q1", "response": "a", "score": 3},
        {"prompt": "Q1", "response": "b", "score": 3},
        {"prompt": "Q1", "response": "c", "score": 1},
        {"prompt": "Q2", "response": "d", "score": None},
        {"prompt": "Q2", "response": "e", "score": 2},
        {"prompt": "Q2", "response": "f", "score": 5},
    ]
    path = write_jsonl(tmp_path / "r.jsonl", rows)
    assert main(["inspect", "ratings", "--data-files", path, "--rating", "score", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_rows"] == 6
    assert summary["n_prompts"] == 2
    assert summary["n_responses"] == 5
    assert summary["n_comparisons"] == 4  # C(3,2) + C(2,2)
    assert summary["n_ties"] == 1  # a and b
    assert summary["dropped"] == {"missing score rating": 1}


def test_inspect_table_runs(tmp_path, capsys):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "yes", "rejected": "no"}])
    assert main(["inspect", "pairs", "--data-files", path]) == 0
    assert "n_comparisons" in capsys.readouterr().out
