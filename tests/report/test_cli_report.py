"""`typicality report DIR`: re-renders a finished audit folder; a wrong folder is one clear error."""

from __future__ import annotations

from typicality.cli import main


def test_report_command_renders_the_folder(audit_dir, capsys):
    assert main(["report", str(audit_dir)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {audit_dir / 'report.md'}" in out and f"wrote {audit_dir / 'report.html'}" in out
    assert "wrote 5 figure(s)" in out
    assert (audit_dir / "report.html").stat().st_size > 100_000  # five embedded PNGs


def test_report_command_rerenders_over_an_earlier_report(audit_dir):
    assert main(["report", str(audit_dir)]) == 0
    first = (audit_dir / "report.md").read_text(encoding="utf-8")
    assert main(["report", str(audit_dir)]) == 0
    assert (audit_dir / "report.md").read_text(encoding="utf-8") == first


def test_report_command_on_an_unfinished_folder_says_what_to_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("typicality: error: ") and "no results.json" in err and "Traceback" not in err
