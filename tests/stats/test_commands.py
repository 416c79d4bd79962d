"""`typicality simulate` and `typicality fit` end to end, in-process."""

from __future__ import annotations

import json

import pandas as pd

from typicality.audit_folder import load_results
from typicality.cli import main
from typicality.pipeline import read_analysis_input
from typicality.results import AuditResults


def read_strict(path) -> dict:
    def refuse(constant):
        raise AssertionError(f"{path} holds {constant}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def read_results(path) -> AuditResults:
    """results.json, typed, once the file is checked to be strict JSON (no NaN or Infinity)."""
    read_strict(path)
    return load_results(path)


def test_simulate_then_fit_a_folder(tmp_path, capsys):
    folder = tmp_path / "sim"
    assert main(["simulate", "--alpha", "0.5", "--prompts", "120", "--responses-per-prompt", "4", "--seed", "3", "--out", str(folder)]) == 0
    assert {p.name for p in folder.iterdir()} >= {"responses.parquet", "comparisons.parquet", "dataset.json", "scores.parquet"}
    data, scores = read_analysis_input(folder)
    assert len(data.comparisons) == 720 and scores.card.true_alpha == 0.5

    assert main(["fit", str(folder)]) == 0
    results = read_results(folder / "results.json")
    assert results.dataset.name == "simulated" and results.model.model == "simulated"
    assert len([e for e in results.estimates if "not-memorized" not in e.slice]) == 12 and results.ordinal.fitted
    out = capsys.readouterr().out
    # The terminal prints the table, then the results' own agreement sentence (the wording summary() uses).
    assert "equal-correctness" in out and results.agreement.summary().split(" (Wilson")[0] in out and "wrote" in out


def test_fit_with_data_and_scores_apart_and_options(tmp_path):
    folder = tmp_path / "sim"
    main(["simulate", "--alpha", "0.3", "--prompts", "80", "--out", str(folder)])
    scores = folder / "scores.parquet"
    moved = tmp_path / "elsewhere.parquet"
    moved.write_bytes(scores.read_bytes())
    out = tmp_path / "r.json"
    argv = [
        "fit",
        "--data",
        str(folder),
        "--scores",
        str(moved),
        "--controls",
        "length",
        "--slice",
        "equal-correctness",
        "--bootstrap",
        "20",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    results = read_results(out)
    assert [e.id for e in results.estimates] == ["equal-correctness|mean_logprob|length", "equal-correctness|sum_logprob|length"]
    assert results.estimates[0].bootstrap["n_draws"] == 20
    assert main(["fit", "--data", str(folder), "--scores", str(moved), "--controls", "--out", str(out)]) == 0
    assert {tuple(e.controls) for e in read_results(out).estimates} == {()}


def test_missing_scores_rows_are_reported_in_results(tmp_path):
    folder = tmp_path / "sim"
    main(["simulate", "--alpha", "0.5", "--prompts", "60", "--out", str(folder)])
    scores = pd.read_parquet(folder / "scores.parquet")
    scores.iloc[10:].to_parquet(folder / "scores.parquet", index=False)
    assert main(["fit", str(folder)]) == 0
    warnings = read_results(folder / "results.json").warnings
    assert warnings[0].startswith("10 of 240 responses have no score")


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    folder = tmp_path / "sim"
    main(["simulate", "--alpha", "0.5", "--prompts", "20", "--out", str(folder)])
    capsys.readouterr()
    assert main(["simulate", "--alpha", "0.5", "--prompts", "20", "--out", str(folder)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["simulate", "--alpha", "0.5", "--prompts", "20", "--out", str(folder), "--force"]) == 0

    (folder / "scores.parquet").unlink()
    assert main(["fit", str(folder)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("typicality: error:") and "No scores file" in error and "scores.parquet" in error and "Traceback" not in error
    assert main(["fit"]) == 2
    assert "needs INPUT" in capsys.readouterr().err
    assert main(["simulate", "--alpha", "0.5", "--responses-per-prompt", "1", "--out", str(tmp_path / "x")]) == 2


def test_a_score_card_beside_the_parquet_is_read(tmp_path):
    folder = tmp_path / "sim"
    main(["simulate", "--alpha", "0.5", "--prompts", "20", "--out", str(folder)])
    pd.read_parquet(folder / "scores.parquet").to_parquet(folder / "scores.parquet", index=False)  # drops the embedded card
    (folder / "scores.card.json").unlink()
    assert read_analysis_input(folder)[1].card is None
    (folder / "scores.card.json").write_text(json.dumps({"model": "gemma-3-270m", "fingerprint": "f00"}), encoding="utf-8")
    assert read_analysis_input(folder)[1].card.fingerprint == "f00"
