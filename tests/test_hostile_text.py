"""Data is data on every surface: hostile text from a dataset or a path never drives the terminal.

A pairs file whose `domain` column (a slice) holds terminal escapes (clear screen, an OSC 8
hidden link, a terminal reset) and Rich markup (`[link=...]`, `[img]`, `[/]`, `[bold]`, an
emoji code), read from a file and written to folders whose names hold the same, goes through
every command that prints: inspect, audit (the tiny random model), fit, report, influence,
plan, export, compare, simulate, datasets. Each must exit 0 and its terminal output must show
the data literally: no escape sequence from the data, no markup read (`[img]` still there, no
crash on `[/]`). report.md, comparison.md and the export's card hold no control character.

The audit runs with Rich forced to a terminal (FORCE_COLOR), where markup errors show: Rich's
own colours are escape sequences there, so that run is checked for the data's sequences (OSC,
clear screen, reset) rather than for any ESC byte; every other run checks for any ESC byte.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest

from tests.scoring.tiny_model import build_tiny_model
from typicality.cli import main
from typicality.safe_text import DataConsole, printable

CLEAR = "\x1b[2J"
LINK = "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07"
MARKUP = "[link=https://x.example]y[/link]"
HOSTILE = (CLEAR, LINK, MARKUP, "[img]", "[/]", "[bold]b", ":smile:")
# Names for a file and a folder: escapes, but no `/` (a path separator) and no `[` (a file glob).
HOSTILE_NAME = "d\x1b]8;;x\x07n\x1b]8;;\x07\x1bc:smile:"
# What the data's escapes start with: OSC (links, titles), CSI 2J (clear screen), RIS (reset).
DATA_SEQUENCES = ("\x1b]", "\x1b[2J", "\x1bc")


def hostile_pairs_file(folder):
    path = folder / f"{HOSTILE_NAME}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        texts = (" Paris is the capital.", " Rome, I think, or maybe not.", " The capital of Italy is Rome.", " I can help you with that.")
        for p in range(84):
            # Which text wins cycles with a period (5) prime to the text cycle (4): no perfect separation.
            chosen, rejected = texts[p % 4] * (1 + p % 3), texts[(p + 1 + p % 5) % 4]
            row = {"prompt": f"The capital of France {p}?", "chosen": chosen, "rejected": rejected, "domain": HOSTILE[p % len(HOSTILE)]}
            handle.write(json.dumps(row) + "\n")
    return path


def output(capsys) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def assert_shown_as_data(text: str, *, forced_terminal: bool = False) -> None:
    """No escape sequence from the data (any ESC byte at all unless Rich was forced to colour), no traceback."""
    if forced_terminal:
        assert not any(sequence in text for sequence in DATA_SEQUENCES), text
    else:
        assert "\x1b" not in text, text
    assert "\x07" not in text and "Traceback" not in text, text


def squeezed(text: str) -> str:
    """The text without whitespace: a line Rich wrapped still contains what it printed."""
    return "".join(text.split())


@pytest.fixture(scope="module")
def hostile_audit(tmp_path_factory):
    """A real audit of the hostile file with the tiny model, into a folder named `x[/]y/<hostile>`, run in a forced terminal."""
    root = tmp_path_factory.mktemp("hostile")
    model = build_tiny_model(root / "tiny-model")
    data_file = hostile_pairs_file(root)
    out = root / "x[" / f"]y{HOSTILE_NAME}"
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich renders as to a terminal: markup errors and styles show there
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["audit", "pairs", "--data-files", str(data_file), "--model", str(model), "--no-check",
                         "--cache-dir", str(root / "cache"), "--out", str(out)])
    finally:
        monkeypatch.undo()
    return {"root": root, "data_file": data_file, "out": out, "code": code, "text": stdout.getvalue() + stderr.getvalue()}


def test_audit_in_a_forced_terminal_shows_the_data_literally(hostile_audit):
    assert hostile_audit["code"] == 0, hostile_audit["text"]
    text = hostile_audit["text"]
    assert_shown_as_data(text, forced_terminal=True)
    assert "[/]" in text and "[img]" in text  # the fit table's slices, as written (an `[img]` read as markup disappears)
    assert printable(HOSTILE_NAME) in squeezed(text)  # the folder's name in the last line, escapes made visible


def test_report_md_holds_no_control_character_and_keeps_its_markdown_guards(hostile_audit):
    report = (hostile_audit["out"] / "report.md").read_text(encoding="utf-8")
    assert not any(character in report for character in ("\x1b", "\x07", "\x9b"))
    assert "domain=\\x1b\\[2J" in report  # visible, with the `[` still escaped for Markdown
    assert "[link=" not in report.replace("\\[link=", "")  # data cannot open a Markdown link
    html = (hostile_audit["out"] / "report.html").read_text(encoding="utf-8")
    assert "\x1b" not in html and "\x07" not in html


@pytest.mark.parametrize("command", ["fit", "report", "influence", "plan"])
def test_commands_on_the_audit_print_the_data_literally(hostile_audit, tmp_path, capsys, command):
    folder = tmp_path / hostile_audit["out"].name
    shutil.copytree(hostile_audit["out"], folder)
    assert main([command, str(folder)]) == 0
    text = output(capsys)
    assert_shown_as_data(text)
    if command == "fit":
        assert "[img]" in text and "[/]" in text and "domain=\\x1b[2J" in squeezed(text)
    if command == "report":
        assert "\x1b" not in (folder / "report.md").read_text(encoding="utf-8")
    if command != "plan":
        assert printable(HOSTILE_NAME) in squeezed(text)


def test_inspect_shows_the_file_name_literally(hostile_audit, capsys):
    assert main(["inspect", "pairs", "--data-files", str(hostile_audit["data_file"])]) == 0
    text = output(capsys)
    assert_shown_as_data(text)
    assert printable(HOSTILE_NAME) in squeezed(text)


def test_export_card_and_terminal_hold_no_control_character(hostile_audit, tmp_path, capsys):
    out = tmp_path / f"export{HOSTILE_NAME}"
    assert main(["export", str(hostile_audit["out"]), "--out", str(out)]) == 0
    assert_shown_as_data(output(capsys))
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "\x1b" not in card and "\x07" not in card


def test_compare_prints_and_writes_the_labels_literally(hostile_audit, tmp_path, capsys):
    second = tmp_path / "second"
    shutil.copytree(hostile_audit["out"], second)
    # The copy as another dataset (a split of its own, itself hostile): a dataset comparison of the two.
    results = json.loads((second / "results.json").read_text(encoding="utf-8"))
    results["dataset"]["split"] = "[/]" + CLEAR
    (second / "results.json").write_text(json.dumps(results), encoding="utf-8")
    out = tmp_path / f"comparison{HOSTILE_NAME}"
    assert main(["compare", str(hostile_audit["out"]), str(second), "--kind", "datasets", "--labels", MARKUP, "[/]" + CLEAR, "--out", str(out)]) == 0
    text = output(capsys)
    assert_shown_as_data(text)
    assert MARKUP in text
    for name in ("comparison.md", "comparison.html"):
        assert "\x1b" not in (out / name).read_text(encoding="utf-8")


def test_simulate_and_datasets_print_paths_literally(tmp_path, capsys):
    out = tmp_path / f"sim{HOSTILE_NAME}"
    assert main(["simulate", "--alpha", "0.5", "--prompts", "30", "--out", str(out)]) == 0
    assert main(["datasets"]) == 0
    text = output(capsys)
    assert_shown_as_data(text)
    assert printable(HOSTILE_NAME) in text


def test_an_error_message_naming_hostile_input_is_shown_literally(tmp_path, capsys):
    assert main(["fit", str(tmp_path / f"missing{HOSTILE_NAME}[/]")]) == 2
    text = output(capsys)
    assert_shown_as_data(text)
    assert printable(HOSTILE_NAME) in text


def test_the_console_shows_markup_and_escapes_as_text():
    sink = io.StringIO()
    console = DataConsole(file=sink, force_terminal=True, width=200, color_system=None)
    for value in HOSTILE:
        console.print(value)
    shown = sink.getvalue().splitlines()
    # Each value exactly as written, its control characters as visible escapes (no styling: color_system=None).
    assert shown == [printable(value) for value in HOSTILE]
    assert printable(CLEAR) == "\\x1b[2J" and printable("a\tb\nc\u202ed\x9b") == "a\tb\nc\\u202ed\\x9b"
