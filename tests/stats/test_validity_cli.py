"""The command-line options of the inference layer: simulate --correctness-noise; fit --pair-construction,
--one-pair-per-prompt, --change-draws, --unconditional-scores; audit --negative-control; score --without-prompt."""

from __future__ import annotations

import json

import pytest

from typicality.audit_folder import load_results
from typicality.cli import build_parser, main


@pytest.mark.parametrize(
    ("argv", "dest", "value", "new_name"),
    [
        (["fit", "folder", "--pairs", "paper"], "pair_construction", "paper", "--pair-construction"),
        (["audit", "hh-rlhf", "--pairs", "paper"], "pair_construction", "paper", "--pair-construction"),
        (["plan", "--pairs", "500"], "n_pairs", 500, "--n-pairs"),
        (["export", "audit", "--out", "x", "--ties", "both"], "tie_rows", "both", "--tie-rows"),
    ],
)
def test_a_renamed_option_still_works_and_says_its_new_name(argv, dest, value, new_name, capsys):
    assert getattr(build_parser().parse_args(argv), dest) == value
    assert f"{argv[-2]} is renamed {new_name}" in capsys.readouterr().err
    assert getattr(build_parser().parse_args([*argv[:-2], new_name, argv[-1]]), dest) == value
    assert capsys.readouterr().err == ""  # the new name says nothing


def test_simulate_and_fit_take_the_options(tmp_path, capsys):
    folder = tmp_path / "sim"
    assert main(["simulate", "--alpha", "0.5", "--prompts", "80", "--rating-levels", "5", "--correctness-noise", "0", "--out", str(folder)]) == 0
    dataset = json.loads((folder / "dataset.json").read_text())
    assert "correctness_noise=0.0" in json.dumps(dataset)
    assert main(["fit", str(folder), "--pair-construction", "paper", "--one-pair-per-prompt", "--change-draws", "0"]) == 0
    results = load_results(folder)
    assert results.settings["pairs"] == "paper" and results.settings["one_pair_per_prompt"] is True
    assert results.agreement.one_pair_per_prompt and results.agreement.n_pairs <= 80
    change = results.headline.alpha_change
    assert change is None or change.n_draws is None  # --change-draws 0: no bootstrap (results.json has none of its fields)
    assert all("intercept" in e.coefficients for e in results.estimates if e.fitted and e.estimator == "logit")
    assert results.interpretation.kind == "bias"
    assert main(["fit", str(folder), "--change-draws", "-1"]) == 2
    assert "--change-draws must be 0" in capsys.readouterr().err


@pytest.mark.slow
def test_audit_negative_control_and_score_without_prompt_agree(tmp_path):
    from tests.scoring.tiny_model import build_tiny_model
    from tests.test_pipeline import hh_file

    model = str(build_tiny_model(tmp_path / "tiny"))
    data_file = hh_file(tmp_path / "test.jsonl", 30)
    cache = str(tmp_path / "cache")
    out = tmp_path / "audit"
    common = ["--data-files", data_file, "--model", model, "--cache-dir", cache, "--no-progress"]
    assert main(["audit", "hh-rlhf", *common, "--out", str(out), "--negative-control", "--change-draws", "20"]) == 0
    results = load_results(out)
    control = results.negative_control
    assert control.available and control.n_scored == results.pairs.pairs
    ids = {e.id for e in results.estimates}
    assert {control.prompt_specific, control.unconditional} <= ids
    assert "Fluency negative control" in (out / "report.md").read_text()
    # The same unconditional scores, written by `score --without-prompt` and read by `fit --unconditional-scores`.
    uncond = tmp_path / "uncond.parquet"
    assert main(["score", "hh-rlhf", *common, "--without-prompt", "--out", str(uncond)]) == 0
    refit = tmp_path / "refit.json"
    assert main(["fit", str(out), "--unconditional-scores", str(uncond), "--change-draws", "20", "--out", str(refit)]) == 0
    first, second = results.estimate(control.unconditional), load_results(refit).estimate(control.unconditional)
    assert second.alpha == pytest.approx(first.alpha, rel=1e-9)
