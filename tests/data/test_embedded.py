"""The embedded dataset in data/: the original HH-RLHF helpful-base test split, its licence and
digest, and `make audit` reading it offline by default."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
from pathlib import Path

from tests.conftest import shared_file
from typicality.data import load

REPO = Path(__file__).resolve().parents[2]
EMBEDDED = REPO / "data" / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"


def test_the_embedded_file_is_the_original_with_its_licence_and_digest():
    digest = hashlib.sha256(EMBEDDED.read_bytes()).hexdigest()
    readme = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    assert f"`{digest}`" in readme and "MIT" in readme
    assert "MIT License" in (REPO / "data" / "hh-rlhf" / "LICENSE").read_text(encoding="utf-8")
    assert EMBEDDED.read_bytes() == shared_file("hh-rlhf", "helpful-base", "test.jsonl.gz").read_bytes()


def test_git_does_not_ignore_the_embedded_data():
    ignored = subprocess.run(["git", "check-ignore", str(EMBEDDED), str(EMBEDDED.parents[1] / "LICENSE")], cwd=REPO, capture_output=True, text=True)
    assert ignored.returncode == 1, f"ignored by git: {ignored.stdout}"


def test_the_embedded_file_loads_offline_with_hand_checkable_counts(monkeypatch):
    from typicality.data import reading

    monkeypatch.setattr(reading, "unreachable_reason", lambda url, timeout=0: __import__("pytest").fail("no network for the embedded data"))
    with gzip.open(EMBEDDED, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]

    # A second way to split a transcript: cut at the last "\n\nAssistant:" with a regex, not rfind.
    def split(text: str) -> tuple[str, str]:
        *before, response = re.split(r"(?<=\n\nAssistant:)", text)
        return "".join(before), response

    differ = empty = identical = 0
    for row in rows:
        (prompt_c, chosen), (prompt_r, rejected) = split(row["chosen"]), split(row["rejected"])
        if prompt_c != prompt_r:
            differ += 1
        elif not chosen.strip() or not rejected.strip():
            empty += 1
        elif chosen == rejected:
            identical += 1
    assert (len(rows), differ, empty, identical) == (2354, 9, 4, 2)  # the README's example report counts

    data = load("hh-rlhf", data_files=str(EMBEDDED))
    assert data.accounting.rows_read == 2354 and len(data.comparisons) == 2354 - 9 - 4 - 2 == 2339
    assert dict(data.accounting.dropped) == {"chosen and rejected prompts differ": 9, "empty response": 4, "identical responses": 2}
    assert data.title == "HH-RLHF helpful-base (test)"
    assert data.provenance == [
        {"kind": "file", "path": str(EMBEDDED), "sha256": hashlib.sha256(EMBEDDED.read_bytes()).hexdigest(), "bytes": EMBEDDED.stat().st_size}
    ]


def make_audit_command(*assignments: str) -> str:
    """The command `make audit` would run (make -n prints it; the install steps are filtered out)."""
    done = subprocess.run(["make", "-n", "--always-make", "audit", *assignments], cwd=REPO, capture_output=True, text=True, check=True)
    lines = done.stdout.replace("\\\n", " ").splitlines()
    return " ".join(next(line for line in lines if "typicality audit" in line).split())


def test_make_audit_reads_the_embedded_file_by_default():
    assert make_audit_command() == (
        ".venv/bin/typicality audit hh-rlhf --out audit-hh-rlhf-helpful-base --subset helpful-base --limit 300 "
        "--data-files data/hh-rlhf/helpful-base/test.jsonl.gz"
    )
    assert make_audit_command("DATA_FILES=") == ".venv/bin/typicality audit hh-rlhf --out audit-hh-rlhf-helpful-base --subset helpful-base --limit 300"
    assert make_audit_command("SUBSET=harmless-base", "LIMIT=") == ".venv/bin/typicality audit hh-rlhf --out audit-hh-rlhf-harmless-base --subset harmless-base"
    assert make_audit_command("DATASET=pairs", "DATA_FILES=my.jsonl", "FORCE=1") == (
        ".venv/bin/typicality audit pairs --out audit-pairs --limit 300 --data-files my.jsonl --force"
    )
