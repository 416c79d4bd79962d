"""Output folders at the boundary: `--force` never deletes what the tool did not write, `--out` is never a place
the user keeps other things, a failed run leaves nothing in the way, and file-system mistakes are one message.

Each case runs through the CLI (`cli.main`, one through a subprocess) and, where the API has its own path, through
Python. "Nothing deleted" is checked by the folder's listing and every file's bytes, before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scoring.server_process import free_port
from tests.scoring.tiny_model import build_tiny_model
from tests.stats.compare_audits import model_audits
from tests.test_pipeline import hh_file, hh_request
from typicality.audit_folder import IN_PROGRESS_FILE, load_scores, save_analysis, save_scores
from typicality.cli import main
from typicality.debiased_export import export
from typicality.errors import TypicalityError
from typicality.output_folder import MARKER_FILE, RUN_FILE, STAGING_SUFFIX
from typicality.pipeline import audit, write_simulation
from typicality.scoring.options import ScoringOptions
from typicality.stats import analyze_with_design, simulate


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under `folder`: a file's bytes, None for a folder (a link is listed as its target text)."""
    entries: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        entries[key] = os.readlink(path).encode() if path.is_symlink() else (path.read_bytes() if path.is_file() else None)
    return entries


def refused(capsys, code: int, *phrases: str) -> str:
    """Exit 2 and one message on stderr (no traceback) holding each phrase."""
    error = capsys.readouterr().err
    assert code == 2, error
    lines = [line for line in error.splitlines() if line.startswith("typicality: error:")]
    assert len(lines) == 1 and "Traceback" not in error, error
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])
    return lines[0]


def no_staging_left(parent: Path) -> None:
    assert not [path.name for path in parent.iterdir() if STAGING_SUFFIX in path.name or path.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-model")))


@pytest.fixture(scope="module")
def simulated_audit(tmp_path_factory) -> Path:
    """A finished audit folder (data, scores, pairs, results) from the simulator: what export and fit read."""
    folder = tmp_path_factory.mktemp("simulated") / "audit"
    data, scores = simulate(0.5, 40, 4, seed=1, rating_levels=5)
    write_simulation(data, scores, folder)
    save_analysis(*analyze_with_design(data, scores, change_draws=0), folder)
    return folder


def project_folder(root: Path) -> Path:
    """A user's folder: the input data, notes and a subfolder of their own."""
    project = root / "project"
    (project / "drafts").mkdir(parents=True)
    hh_file(project / "data.jsonl", 4)
    (project / "notes.md").write_text("my notes\n")
    (project / "drafts" / "idea.txt").write_text("keep me\n")
    return project


def audit_argv(data_file, out, *extra, model: str = "gemma-3-270m", cache: Path | None = None) -> list[str]:
    cache_option = ["--cache-dir", str(cache)] if cache is not None else []
    return ["audit", "hh-rlhf", "--data-files", str(data_file), "--model", model, *cache_option, "--out", str(out), "--no-progress", *extra]


# ---------------------------------------------------------------------------------------------
# --force and --out: nothing the tool did not write is touched


def test_audit_force_refuses_a_folder_holding_the_input_or_other_files(tmp_path, capsys):
    project = project_folder(tmp_path)
    before = snapshot(project)
    cache = tmp_path / "cache"
    refused(capsys, main(audit_argv(project / "data.jsonl", project, "--force", cache=cache)), f"--out {project} holds an input", "data.jsonl")
    other_data = hh_file(tmp_path / "elsewhere.jsonl", 4)
    message = refused(capsys, main(audit_argv(other_data, project, "--force", cache=cache)), "not empty", "did not write", "--out audit-DATASET")
    assert "data.jsonl, drafts/, notes.md" in message and "(3 entries)" in message
    # A folder holding more than a few names: the first ones and a count.
    for index in range(8):
        (project / f"file-{index}.txt").write_text(str(index))
    before = snapshot(project)
    assert "and 6 more" in refused(capsys, main(audit_argv(other_data, project, "--force", cache=cache)), "(11 entries)")
    assert snapshot(project) == before
    with pytest.raises(TypicalityError, match="did not write"):
        audit(hh_request(other_data), project, ScoringOptions(cache_dir=str(cache)), force=True, progress=False)
    assert snapshot(project) == before and not cache.exists()


@pytest.mark.parametrize("command", ["audit", "export", "compare"])
def test_out_is_never_the_current_directory_home_root_link_or_file(tmp_path, monkeypatch, capsys, command):
    work = tmp_path / "projects" / "work"
    work.mkdir(parents=True)
    data_file = hh_file(work / "data.jsonl", 4)
    (work / "notes.md").write_text("mine\n")
    home = tmp_path / "home"
    (home / "documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "matplotlib"))  # matplotlib, imported here, would keep its cache in HOME
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("keep\n")
    (tmp_path / "link").symlink_to(target)
    (tmp_path / "file.txt").write_text("a file\n")
    monkeypatch.chdir(work)
    before = {folder: snapshot(folder) for folder in (work, home, target)}

    def run(out: str) -> int:
        if command == "audit":
            return main(audit_argv(data_file, out, "--force", cache=tmp_path / "cache"))
        if command == "export":
            return main(["export", str(tmp_path / "some-audit"), "--out", out, "--force"])
        return main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", out, "--force"])

    refused(capsys, run("."), "--out . is the current directory")
    refused(capsys, run(".."), "holding the current directory")
    refused(capsys, run(str(home)), "your home folder")
    refused(capsys, run("/"), "filesystem root")
    refused(capsys, run(str(tmp_path / "link")), "symbolic link", str(target))
    refused(capsys, run(str(tmp_path / "file.txt")), "is a file, not a folder")
    refused(capsys, run(str(tmp_path / "file.txt" / "sub")), "which is a file, not a folder")
    assert {folder: snapshot(folder) for folder in (work, home, target)} == before
    assert (tmp_path / "file.txt").read_text() == "a file\n" and not (tmp_path / "cache").exists()


def test_export_out_dot_force_through_the_command_line(tmp_path, simulated_audit):
    """`typicality export AUDIT --out . --force` in a real process: exit 2, one line, the folder untouched."""
    (tmp_path / "notes.md").write_text("mine\n")
    before = snapshot(tmp_path)
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run(
        [sys.executable, "-m", "typicality.cli", "export", str(simulated_audit), "--out", ".", "--force"],
        cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=120,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("typicality: error: --out . is the current directory") and run.stderr.count("\n") == 1
    assert snapshot(tmp_path) == before


def test_export_force_replaces_only_an_export_folder_holding_nothing_else(tmp_path, simulated_audit, capsys):
    audit_before = snapshot(simulated_audit)
    out = tmp_path / "debiased"
    assert main(["export", str(simulated_audit), "--out", str(out)]) == 0
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["kind"] == "export" and marker["files"] == ["README.md", "train.parquet"]
    refused(capsys, main(["export", str(simulated_audit), "--out", str(out)]), "already exists", "--force")
    assert main(["export", str(simulated_audit), "--out", str(out), "--format", "jsonl", "--force"]) == 0
    assert sorted(path.name for path in out.iterdir()) == [MARKER_FILE, "README.md", "train.jsonl"]
    no_staging_left(tmp_path)

    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out)
    refused(capsys, main(["export", str(simulated_audit), "--out", str(out), "--force"]), "also notes.txt", "did not write", "Move it out")
    assert snapshot(out) == before
    (out / "notes.txt").unlink()

    # A folder written before the marker existed is recognised by its dataset card, and replaced.
    (out / MARKER_FILE).unlink()
    assert main(["export", str(simulated_audit), "--out", str(out), "--force"]) == 0 and (out / "train.parquet").exists()

    # The user's own dataset, with the very names the export writes but no marker: never replaced.
    mine = tmp_path / "my-dataset"
    mine.mkdir()
    (mine / "README.md").write_text("# My dataset\n")
    (mine / "train.parquet").write_bytes(b"PAR1 my data")
    before = snapshot(mine)
    refused(capsys, main(["export", str(simulated_audit), "--out", str(mine), "--force"]), "not empty", "README.md, train.parquet")
    assert snapshot(mine) == before

    # The audit itself, a folder holding it, or another audit: refused with --force, the audit intact.
    refused(capsys, main(["export", str(simulated_audit), "--out", str(simulated_audit), "--force"]), "is an input of this command")
    refused(capsys, main(["export", str(simulated_audit), "--out", str(simulated_audit.parent), "--force"]), "holds an input of this command")
    with pytest.raises(TypicalityError, match="is an input of this command"):
        export(simulated_audit, simulated_audit, force=True)
    other_audit = tmp_path / "other-audit"
    data, scores = simulate(0.2, 10, 3, seed=4)
    write_simulation(data, scores, other_audit)
    before = snapshot(other_audit)
    refused(capsys, main(["export", str(simulated_audit), "--out", str(other_audit), "--force"]), "holds an audit", "not a debiased export")
    assert snapshot(other_audit) == before and snapshot(simulated_audit) == audit_before


def test_compare_force_replaces_only_its_own_comparison(tmp_path, capsys):
    first, second = model_audits(tmp_path / "audits", prompts=30)
    out = tmp_path / "comparison"
    assert main(["compare", str(first), str(second), "--out", str(out)]) == 0
    capsys.readouterr()
    assert json.loads((out / MARKER_FILE).read_text())["kind"] == "comparison"
    assert ".typicality-staging" not in (out / "comparison.md").read_text()
    refused(capsys, main(["compare", str(first), str(second), "--out", str(out)]), "already holds a comparison")
    (out / "figures" / "mine.txt").write_text("mine\n")
    before = snapshot(out)
    refused(capsys, main(["compare", str(first), str(second), "--out", str(out), "--force"]), "also figures/")
    assert snapshot(out) == before
    (out / "figures" / "mine.txt").unlink()
    assert main(["compare", str(first), str(second), "--out", str(out), "--force"]) == 0
    no_staging_left(tmp_path)
    audit_before = snapshot(first)
    refused(capsys, main(["compare", str(first), str(second), "--out", str(first), "--force"]), "is an input of this command")
    refused(capsys, main(["compare", str(first), str(second), "--out", str(out / "figures"), "--force"]), "not empty")
    assert snapshot(first) == audit_before


# ---------------------------------------------------------------------------------------------
# A failed run leaves nothing in the way; a replaced audit stays whole until the new one is


def test_failed_audits_leave_nothing_and_the_corrected_command_runs(tmp_path, tiny_model_dir, capsys, monkeypatch):
    out, cache = tmp_path / "audit", tmp_path / "cache"
    data_file = hh_file(tmp_path / "test.jsonl", 8)
    refused(capsys, main(audit_argv(data_file, out, model=str(tmp_path / "no-such-model"), cache=cache)), "no-such-model")
    assert not out.exists()
    no_staging_left(tmp_path)
    dead_endpoint = f"openai:http://127.0.0.1:{free_port()}/v1#model"  # nothing listens there
    refused(capsys, main(audit_argv(data_file, out, "--max-retries", "0", "--timeout", "5", model=dead_endpoint, cache=cache)), "cannot reach")
    assert not out.exists()
    no_staging_left(tmp_path)
    ties = hh_file(tmp_path / "ties.jsonl", 4, identical=True)
    refused(capsys, main(audit_argv(ties, out, model=tiny_model_dir, cache=cache)), "no usable pairs")  # after scoring
    assert not out.exists()
    no_staging_left(tmp_path)
    refused(capsys, main(audit_argv(ties, tmp_path / "runs" / "first" / "audit", model=tiny_model_dir, cache=cache)), "no usable pairs")
    assert not (tmp_path / "runs").exists()  # the folders this run created above --out go too

    # The corrected command, into the same --out, without --force.
    assert main(audit_argv(data_file, out, model=tiny_model_dir, cache=cache)) == 0
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["kind"] == "audit" and {"results.json", "scores.parquet", "report.html"} <= set(marker["files"])
    assert f"Audit folder: {out.name}" in (out / "report.html").read_text() and STAGING_SUFFIX not in (out / "report.md").read_text()
    no_staging_left(tmp_path)

    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out)
    refused(capsys, main(audit_argv(data_file, out, "--force", model=tiny_model_dir, cache=cache)), "also notes.txt")
    assert snapshot(out) == before
    (out / "notes.txt").unlink()
    before = snapshot(out)

    # --force, interrupted at the report: the audit being replaced is whole, byte for byte, and nothing is left beside it.
    def crash(folder):
        raise KeyboardInterrupt

    scoring = ScoringOptions(model=tiny_model_dir, cache_dir=str(cache))
    monkeypatch.setattr("typicality.report.render_report", crash)
    with pytest.raises(KeyboardInterrupt):
        audit(hh_request(data_file), out, scoring, force=True, progress=False)
    assert snapshot(out) == before
    no_staging_left(tmp_path)
    monkeypatch.undo()

    # ... and the re-run finds every score in the cache: nothing computed was lost.
    audit(hh_request(data_file), out, scoring, force=True, progress=False)
    card = load_scores(out).card
    assert card["n_computed"] == 0 and card["n_from_cache"] == 16 and (out / "report.html").exists()
    no_staging_left(tmp_path)

    # An audit an earlier version left unfinished in its folder (it wrote in place) is replaced without --force, as it resumed there.
    legacy = tmp_path / "legacy"
    shutil.copytree(out, legacy)
    (legacy / MARKER_FILE).unlink()
    (legacy / "report.html").unlink()
    (legacy / IN_PROGRESS_FILE).write_text(json.dumps({"request": "another"}))
    audit(hh_request(data_file), legacy, scoring, progress=False)
    assert (legacy / "report.html").exists() and (legacy / MARKER_FILE).exists() and not (legacy / IN_PROGRESS_FILE).exists()


def test_a_killed_run_is_taken_over_and_a_running_one_refused(tmp_path, simulated_audit, capsys):
    out = tmp_path / "debiased"
    staging = tmp_path / f".debiased{STAGING_SUFFIX}"
    (staging / "debiased").mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    import socket

    (staging / RUN_FILE).write_text(json.dumps({"pid": int(finished.stdout), "host": socket.gethostname()}))
    assert main(["export", str(simulated_audit), "--out", str(out)]) == 0  # the killed run's staging is the tool's: removed
    assert not staging.exists() and (out / "train.parquet").exists()

    (staging / "debiased").mkdir(parents=True)
    (staging / RUN_FILE).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "started": "earlier"}))
    before = snapshot(tmp_path)
    refused(capsys, main(["export", str(simulated_audit), "--out", str(out), "--force"]), "Another typicality run", f"remove {staging}")
    assert snapshot(tmp_path) == before

    (staging / RUN_FILE).unlink()
    refused(capsys, main(["export", str(simulated_audit), "--out", str(out), "--force"]), "not written by a typicality run")
    assert (staging / "debiased").is_dir()


# ---------------------------------------------------------------------------------------------
# File-system errors: one message, before the work where they can be known before it


def test_score_out_is_checked_before_scoring(tmp_path, simulated_audit, monkeypatch, capsys):
    def no_scoring(*args, **kwargs):
        raise AssertionError("scored before --out was checked")

    monkeypatch.setattr("typicality.scoring.score", no_scoring)
    data_file = hh_file(tmp_path / "test.jsonl", 2)
    argv = ["score", "hh-rlhf", "--data-files", data_file, "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--out"]
    before = snapshot(simulated_audit.parent)
    refused(capsys, main([*argv, str(simulated_audit)]), "is a folder", "give a file path")
    (tmp_path / "mine.parquet").write_bytes(b"not typicality's")
    refused(capsys, main([*argv, str(tmp_path / "mine.parquet")]), "is not a scores file typicality wrote")
    refused(capsys, main([*argv, str(tmp_path / "mine.parquet" / "scores.parquet")]), "which is a file, not a folder")
    assert snapshot(simulated_audit.parent) == before and (tmp_path / "mine.parquet").read_bytes() == b"not typicality's"
    no_staging_left(tmp_path)

    # The Python API: saving scores over a folder is one error, and leaves no hidden file.
    scores = load_scores(simulated_audit)
    with pytest.raises(TypicalityError, match="Could not write"):
        save_scores(scores, simulated_audit)
    assert snapshot(simulated_audit.parent) == before


def test_fit_out_never_overwrites_a_file_the_tool_did_not_write(tmp_path, simulated_audit, capsys):
    (tmp_path / "notes.json").write_text('{"mine": true}\n')
    refused(capsys, main(["fit", str(simulated_audit), "--out", str(tmp_path / "notes.json")]), "is not a results.json typicality wrote")
    assert (tmp_path / "notes.json").read_text() == '{"mine": true}\n'
    refused(capsys, main(["fit", str(simulated_audit), "--out", str(tmp_path / "notes.json" / "results.json")]), "which is a file")
    refused(capsys, main(["fit", str(simulated_audit), "--out", str(tmp_path)]), "is a folder")


def _can_write_read_only(folder: Path) -> bool:
    """Root (and some file systems) write through chmod: the read-only cases cannot be made here."""
    probe = folder / "probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


def test_read_only_folders_are_one_message(tmp_path, simulated_audit, tiny_model_dir, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    fitted = tmp_path / "fitted"
    try:
        if _can_write_read_only(locked):
            pytest.skip("chmod does not stop writes here (running as root): the read-only cases cannot be made")
        data, scores = simulate(0.5, 20, 3, seed=2)
        write_simulation(data, scores, fitted)
        save_analysis(*analyze_with_design(data, scores, change_draws=0), fitted)
        fitted.chmod(0o555)
        before = snapshot(fitted)
        data_file = hh_file(tmp_path / "test.jsonl", 2)
        refused(capsys, main(audit_argv(data_file, locked / "audit", cache=tmp_path / "cache")), "read-only")
        refused(capsys, main(["export", str(simulated_audit), "--out", str(locked / "debiased")]), "read-only")
        refused(capsys, main(["score", "hh-rlhf", "--data-files", data_file, "--out", str(locked / "scores.parquet")]), "read-only")
        refused(capsys, main(["fit", str(fitted)]), "read-only")
        refused(capsys, main(["fit", str(fitted), "--out", str(locked / "results.json")]), "read-only")
        refused(capsys, main(["report", str(fitted)]), "read-only")
        refused(capsys, main(["influence", str(fitted)]), "read-only")
        assert snapshot(fitted) == before and not any(locked.iterdir())
    finally:
        locked.chmod(0o755)
        if fitted.exists():
            fitted.chmod(0o755)
