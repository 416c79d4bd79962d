"""`typicality simulate --groups` then `fit --by annotator` then `report`: the terminal lines, the report section and the figure."""

from __future__ import annotations

import json

import pytest

from typicality.audit_folder import load_results
from typicality.cli import main
from typicality.formatting import fmt_coef, fmt_interval
from typicality.report.groups import TABLE_ENDS, _table, groups_section
from typicality.results import GroupAlpha


@pytest.fixture(scope="module")
def grouped_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grouped") / "sim"
    assert main(["simulate", "--alpha", "0.8", "--prompts", "480", "--groups", "8", "--group-sd", "0.5", "--seed", "2", "--out", str(folder)]) == 0
    return folder


def test_fit_by_annotator_prints_the_groups_and_the_report_shows_them(grouped_folder, capsys):
    assert main(["fit", str(grouped_folder), "--by", "annotator", "--change-draws", "0", "--typicality", "mean_logprob"]) == 0
    out = capsys.readouterr().out
    results = load_results(grouped_folder)
    groups = results.groups
    assert groups.available and groups.column == "annotator" and groups.n_groups == 8
    assert f"population alpha = {fmt_coef(groups.population_alpha)}" in out
    assert f"between-group SD tau = {fmt_coef(groups.tau)}" in out
    assert json.loads((grouped_folder / "results.json").read_text())["settings"]["by"] == "annotator"

    assert main(["report", str(grouped_folder)]) == 0
    markdown = (grouped_folder / "report.md").read_text()
    html = (grouped_folder / "report.html").read_text()
    assert "## Who and where: alpha by annotator" in markdown and '<section id="groups">' in html
    assert f"tau = {fmt_coef(groups.tau)} (95% CI {fmt_interval(groups.tau_ci_low, groups.tau_ci_high)})" in markdown
    # the bias wording of the headline (this data has a correctness rating, and the headline holds it fixed)
    assert results.interpretation.is_bias_estimate and "the typicality-bias estimate alpha (controlled for correctness)" in markdown
    for group in groups.groups:
        assert f"| {group.name} | {group.n_pairs} |" in markdown
        assert f"{fmt_coef(group.pooled_alpha)} | {fmt_interval(group.pooled_ci_low, group.pooled_ci_high)}" in markdown
    assert (grouped_folder / "figures" / "groups.png").stat().st_size > 10_000


def test_fit_by_an_unknown_column_names_the_columns_there_are(grouped_folder, capsys):
    assert main(["fit", str(grouped_folder), "--by", "judge", "--change-draws", "0"]) != 0
    assert "no column 'judge'. Per-pair columns of this data: annotator" in capsys.readouterr().err


def test_an_audit_without_by_has_no_groups_section(grouped_folder):
    assert main(["fit", str(grouped_folder), "--change-draws", "0", "--typicality", "mean_logprob"]) == 0
    results = load_results(grouped_folder)
    assert results.groups is None and groups_section(results) is None
    assert "groups" not in json.loads((grouped_folder / "results.json").read_text())


def test_the_table_keeps_the_ends_and_every_group_that_differs():
    rows = [GroupAlpha(name=f"g{i}", n_pairs=50, n_prompts=20, fitted=True, alpha=i / 100, se=0.1, pooled_alpha=i / 100,
                       pooled_ci_low=0.0, pooled_ci_high=1.0, p_value=0.5, p_holm=1.0, differs=i == 50) for i in range(100)]
    from typicality.results import Groups

    groups = Groups(column="annotator", estimate="x", min_pairs=30, method="m", multiplicity="holm", available=True, groups=rows, n_groups=100)
    table, note = _table(groups)
    names = [row[0] for row in table]  # the group column
    assert len(names) == 2 * TABLE_ENDS + 1 and "g50" in names and names[0] == "g99" and names[-1] == "g0"
    assert "20 highest and 20 lowest of 100" in note


def test_the_figure_draws_group_names_as_text_not_mathtext():
    from typicality.report.groups import plot_caterpillar
    from typicality.results import Groups

    rows = [GroupAlpha(name=name, n_pairs=50, n_prompts=20, fitted=True, alpha=a, se=0.1, pooled_alpha=a, pooled_ci_low=a - 0.2,
                       pooled_ci_high=a + 0.2, p_value=0.5, p_holm=1.0, differs=False) for name, a in (("cost $5 $x$", 0.1), ("*b*", 0.3), ("c", 0.5))]
    groups = Groups(column="annotator", estimate="x", min_pairs=30, method="m", multiplicity="holm", available=True, groups=rows, n_groups=3,
                    population_alpha=0.3, population_ci_low=0.1, population_ci_high=0.5)
    figure = plot_caterpillar(groups)
    figure.canvas.draw()
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert labels == [r"cost \$5 \$x\$", "*b*", "c"]  # escaped: drawn literally
