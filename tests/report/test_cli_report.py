"""`typicality report DIR`: re-renders a finished audit folder; a wrong folder is one clear error."""

from __future__ import annotations

import json

import pytest

from typicality.audit_folder import FORMAT_VERSION, REPORT_HTML_FILE, REPORT_MARKDOWN_FILE, RESULTS_FILE
from typicality.cli import main


def test_report_command_renders_the_folder(audit_dir, capsys):
    assert main(["report", str(audit_dir)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {audit_dir / REPORT_MARKDOWN_FILE}" in out and f"wrote {audit_dir / REPORT_HTML_FILE}" in out
    assert "wrote 5 figure(s)" in out
    assert (audit_dir / REPORT_HTML_FILE).stat().st_size > 100_000  # five embedded PNGs


def test_report_command_rerenders_over_an_earlier_report(audit_dir):
    assert main(["report", str(audit_dir)]) == 0
    first = (audit_dir / REPORT_MARKDOWN_FILE).read_text(encoding="utf-8")
    assert main(["report", str(audit_dir)]) == 0
    assert (audit_dir / REPORT_MARKDOWN_FILE).read_text(encoding="utf-8") == first


def test_report_command_on_an_unfinished_folder_says_what_to_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("typicality: error: ") and "no results.json" in err and "Traceback" not in err


@pytest.mark.parametrize("version", [None, FORMAT_VERSION - 1])
def test_report_command_on_a_folder_of_another_version_is_one_line(audit_dir, capsys, version):
    results = json.loads((audit_dir / RESULTS_FILE).read_text(encoding="utf-8"))
    results["format_version"] = version
    (audit_dir / RESULTS_FILE).write_text(json.dumps(results), encoding="utf-8")
    assert main(["report", str(audit_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("typicality: error: ") and err.count("\n") == 1
    assert f"written by another version of typicality (format {version}, this version reads {FORMAT_VERSION})" in err
    assert f"typicality fit {audit_dir}" in err
    assert not (audit_dir / REPORT_MARKDOWN_FILE).exists()
