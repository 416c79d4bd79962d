"""Provenance of local loads (path, size, sha256 of every file read), `preference_rating`, the
report title, and that all of them survive an audit folder."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess

import pytest

from tests.data.files import write_jsonl
from typicality.audit_folder import load_data, save_data
from typicality.data import load

PROMPT = "\n\nHuman: Hi\n\nAssistant:"


def sha256_by_tool(path) -> str:
    """The digest from coreutils' sha256sum, a second implementation beside hashlib's."""
    return subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]


def test_each_local_file_is_recorded_with_its_absolute_path_size_and_digest(tmp_path, monkeypatch):
    rows = [{"prompt": f"Q{i}", "chosen": "a", "rejected": "b"} for i in range(3)]
    write_jsonl(tmp_path / "part-1.jsonl", rows[:2])
    write_jsonl(tmp_path / "part-2.jsonl", rows[2:])
    monkeypatch.chdir(tmp_path)
    data = load("pairs", data_files="part-*.jsonl")  # a relative glob: recorded resolved
    assert data.provenance == [
        {"kind": "file", "path": str(tmp_path / name), "sha256": sha256_by_tool(tmp_path / name), "bytes": (tmp_path / name).stat().st_size}
        for name in ("part-1.jsonl", "part-2.jsonl")
    ]
    assert len(data.comparisons) == 3


def test_a_changed_file_changes_its_digest(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "a", "rejected": "b"}])
    before = load("pairs", data_files=path).provenance[0]["sha256"]
    write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "a", "rejected": "c"}])
    assert load("pairs", data_files=path).provenance[0]["sha256"] != before


def test_a_gzipped_file_is_hashed_as_stored(tmp_path):
    path = tmp_path / "test.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"chosen": PROMPT + " a", "rejected": PROMPT + " b"}) + "\n")
    entry = load("hh-rlhf", data_files=str(path)).provenance[0]
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and entry["bytes"] == path.stat().st_size


def test_preference_rating_names_the_deciding_rating(tmp_path):
    rated = [
        {"prompt": "Q", "response": r, "helpfulness": h, "correctness": 2, "coherence": 4, "complexity": 1, "verbosity": 1} for r, h in (("a", 3), ("b", 1))
    ]
    path = write_jsonl(tmp_path / "train.jsonl", rated)
    assert load("helpsteer", data_files=path).preference_rating == "helpfulness"
    assert load("helpsteer", data_files=path, rating="coherence").preference_rating == "coherence"
    pairwise = write_jsonl(tmp_path / "hh.jsonl", [{"chosen": PROMPT + " a", "rejected": PROMPT + " b"}])
    assert load("hh-rlhf", data_files=pairwise).preference_rating is None


def test_titles(tmp_path):
    pairs = write_jsonl(tmp_path / "my_prefs.jsonl", [{"prompt": "Q", "chosen": "a", "rejected": "b"}])
    assert load("pairs", data_files=pairs).title == "my_prefs.jsonl"
    assert load("pairs", data_files=pairs, split="train").title == "my_prefs.jsonl (train)"
    hh = write_jsonl(tmp_path / "test.jsonl", [{"chosen": PROMPT + " a", "rejected": PROMPT + " b"}])
    assert load("hh-rlhf", data_files=hh).title == "HH-RLHF helpful-base (test)"
    rated = write_jsonl(tmp_path / "scores.jsonl", [{"prompt": "Q", "response": r, "stars": s} for r, s in (("a", 1), ("b", 2))])
    assert load("ratings", data_files=rated).title == "scores.jsonl"
    many = [write_jsonl(tmp_path / f"p{i}.jsonl", [{"prompt": f"Q{i}", "chosen": "a", "rejected": "b"}]) for i in range(3)]
    assert load("pairs", data_files=many[:2]).title == "p0.jsonl, p1.jsonl"
    assert load("pairs", data_files=many).title == "p0.jsonl and 2 more files"


@pytest.mark.parametrize("limit", [None, 1])
def test_every_field_survives_an_audit_folder(tmp_path, limit):
    rated = [{"prompt": q, "response": r, "helpfulness": h, "correctness": 2, "coherence": 4, "complexity": 1, "verbosity": 1}
             for q, r, h in (("Q1", "a", 3), ("Q1", "b", 1), ("Q2", "c", 2), ("Q2", "d", 2))]  # fmt: skip
    data = load("helpsteer2", data_files=write_jsonl(tmp_path / "train.jsonl", rated), limit=limit)
    again = load_data(save_data(data, tmp_path / "folder"))
    assert again.provenance == data.provenance and len(data.provenance) == 1
    assert again.preference_rating == data.preference_rating == "helpfulness"
    assert again.title == data.title == "HelpSteer2 (train)"
    assert json.loads((tmp_path / "folder" / "dataset.json").read_text())["provenance"][0]["sha256"] == sha256_by_tool(tmp_path / "train.jsonl")
