"""A wrong-typed or non-finite input at a public entry point: one TypicalityError naming it and the fix, never a traceback from inside."""

from __future__ import annotations

import pytest

import typicality
from tests.stats.builders import random_pairwise
from typicality.cli import main


@pytest.fixture(scope="module")
def data_and_table():
    return random_pairwise(30, seed=3)


CALLS = {
    "analyze(data, None)": (lambda data, table: typicality.analyze(data, None), r"analyze\(\): scores must be .* got None; .*typicality.load_scores\(path\)"),
    "analyze(data, path)": (lambda data, table: typicality.analyze(data, "scores.parquet"), r"analyze\(\): scores must be .* got 'scores.parquet'"),
    "analyze(None, table)": (lambda data, table: typicality.analyze(None, table), r"analyze\(\): data must be a PreferenceData, got None; load it"),
    "analyze(options=str)": (lambda data, table: typicality.analyze(data, table, "robust"), r"options must be an AnalysisOptions or None, got .robust."),
    "build_pairs(data, None)": (lambda data, table: typicality.build_pairs(data, None), r"build_pairs\(\): scores must be"),
    "agreement_rate(None)": (lambda data, table: typicality.agreement_rate(None), r"agreement_rate\(\): design must be a PairDesign"),
    "score(None)": (lambda data, table: typicality.score(None), r"score\(\): data must be a PreferenceData, got None"),
    "score(data, 3)": (lambda data, table: typicality.score(data, 3), r"score\(\): model must be a model name, .* got 3"),
    "simulate(alpha str)": (lambda data, table: typicality.simulate("0.5", 10, 2), r"simulate\(\): alpha must be a number, got '0.5'"),
    "simulate(prompts float)": (lambda data, table: typicality.simulate(0.5, 10.5, 2), r"simulate\(\): prompts must be a whole number, got 10.5"),
    "plan(alpha nan)": (lambda data, table: typicality.plan(alpha=float("nan")), r"--alpha must be a finite number, got nan"),
    "plan(odds inf)": (lambda data, table: typicality.plan(odds_ratio_per_sd=float("inf")), r"--odds-ratio must be a finite number, got inf"),
    "plan(pairs str)": (lambda data, table: typicality.plan(alpha=0.2, pairs="1000"), r"--n-pairs must be a number, got '1000'"),
    "plan_from_audit(path)": (lambda data, table: typicality.plan_from_audit("audit-dir"), r"plan_from_audit\(\): audit must be an AuditFolder, .*read_audit"),
    "draw_figures(None)": (lambda data, table: typicality.draw_figures(None), r"draw_figures\(\): audit must be an AuditFolder, got None"),
    "render_report(None)": (lambda data, table: typicality.render_report(None), r"render_report\(\): folder must be a path"),
    "compare(one str)": (lambda data, table: typicality.compare("audit-a"), r"compare\(\): folders must be a list of audit folders, got 'audit-a'"),
    "compare([None, 1])": (lambda data, table: typicality.compare([None, 1]), r"compare\(\): each folder must be a path .* got None"),
}


@pytest.mark.parametrize("name", CALLS)
def test_a_wrong_input_is_one_message_naming_it(name, data_and_table):
    call, message = CALLS[name]
    with pytest.raises(typicality.TypicalityError, match=message):
        call(*data_and_table)


def test_the_right_inputs_still_pass(data_and_table):
    data, table = data_and_table
    results = typicality.analyze(data, table, change_draws=0)
    assert results.agreement.n_pairs == 30  # random_pairwise: one pair per prompt, all scored


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_plan_refuses_a_non_finite_alpha_on_the_command_line(value, capsys):
    assert main(["plan", f"--alpha={value}"]) == 2
    error = capsys.readouterr().err
    assert f"--alpha must be a finite number, got {value}" in error and "Traceback" not in error
