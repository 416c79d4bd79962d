"""`AnalysisOptions`: valid when built, frozen, and the one declaration of the `fit` and `audit` analysis flags."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from typicality.cli import analysis_options, build_parser
from typicality.errors import TypicalityError
from typicality.stats.options import DEFAULT_BETAS, AnalysisOptions

FIT = ["fit", "folder"]
AUDIT = ["audit", "hh-rlhf"]


def sub_parser(command: str):
    """The argparse parser of one sub-command, as `typicality COMMAND --help` prints it."""
    commands = next(action for action in build_parser()._actions if action.dest == "command")
    return commands.choices[command]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ties": "keep"}, "--ties must be one of drop, half, got 'keep'."),
        ({"bootstrap": -1}, "--bootstrap must be 0 (off) or a number of draws, got -1."),
        ({"typicalities": ("mean",)}, "Unknown typicality mean; use mean_logprob, sum_logprob."),
        ({"pairs": "all"}, "--pair-construction must be one of distinct, paper, got 'all'."),
        ({"betas": (0.1, -2.0)}, "--beta takes positive KL coefficients (e.g. 0.05 0.1), got -2.0."),
        ({"min_group_pairs": 3}, "--min-group-pairs must be at least 10 (the fewest pairs any fit accepts), got 3."),
    ],
)
def test_invalid_options_cannot_be_built(settings, message):
    with pytest.raises(TypicalityError) as caught:
        AnalysisOptions(**settings)
    assert str(caught.value) == message


def test_options_are_frozen_and_normalised_when_built():
    options = AnalysisOptions(typicalities=["sum_logprob"], betas=[0.5, 0.1, 0.5])
    assert options.typicalities == ("sum_logprob",) and options.betas == (0.1, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.ties = "half"


@pytest.mark.parametrize(("argv", "command", "seed"), [(FIT, "fit", 0), ([*AUDIT, "--seed", "7"], "audit", 7)])
def test_the_flags_left_out_give_the_dataclass_defaults(argv, command, seed):
    args = build_parser().parse_args(argv)
    assert analysis_options(args, command, **({"seed": args.seed} if command == "audit" else {})) == AnalysisOptions(seed=seed)


def test_every_flag_reaches_its_field():
    flags = ["--controls", "length", "style", "--bootstrap", "5", "--ties", "half", "--change-draws", "0", "--one-pair-per-prompt",
             "--pair-construction", "paper", "--beta", "0.2", "0.02", "--by", "annotator", "--min-group-pairs", "12"]
    expected = {"controls": ["length", "style"], "bootstrap": 5, "ties": "half", "change_draws": 0, "one_pair_per_prompt": True,
                "pairs": "paper", "betas": (0.02, 0.2), "by": "annotator", "min_group_pairs": 12}
    fit = analysis_options(build_parser().parse_args([*FIT, *flags, "--slice", "all", "--typicality", "sum_logprob", "--seed", "3"]), "fit")
    assert fit == AnalysisOptions(**expected, slices=["all"], typicalities=("sum_logprob",), seed=3)
    audit = analysis_options(build_parser().parse_args([*AUDIT, *flags, "--negative-control"]), "audit", seed=0)
    assert audit == AnalysisOptions(**expected, negative_control=True)
    assert AnalysisOptions().betas == DEFAULT_BETAS


def test_fit_and_audit_declare_each_shared_flag_once_with_the_same_help_and_choices():
    declared = {field.metadata["flag"]: field for field in dataclasses.fields(AnalysisOptions) if "flag" in field.metadata}
    for command in ("fit", "audit"):
        actions = {action.option_strings[0]: action for action in sub_parser(command)._actions if action.option_strings}
        for flag, field in declared.items():
            if command not in field.metadata["commands"]:
                continue
            action = actions[flag]
            assert action.help == field.metadata["help"] and action.choices == field.metadata.get("choices")
            assert action.metavar == field.metadata.get("metavar")
    assert declared["--negative-control"].metadata["commands"] == ("audit",) and declared["--slice"].metadata["commands"] == ("fit",)


def test_the_command_line_parser_loads_no_data_frame_or_model_code():
    code = (
        "import sys\n"
        "from typicality.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = {'pandas', 'pyarrow', 'statsmodels', 'scipy', 'torch', 'datasets', 'matplotlib'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
