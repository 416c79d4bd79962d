"""`AnalysisOptions`: what the stats stage fits, valid when built; each field declares its `fit`/`audit` flag.

Light on purpose (no pandas, no statsmodels): the command line builds its flags from these fields,
and `typicality --help` must stay fast. The constants the checks need are defined here, and the
modules that use them (pair_design, sharpening, groups, pairwise_logit) import them from here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, fields

from typicality.errors import TypicalityError

TYPICALITIES = ("mean_logprob", "sum_logprob")  # the keys of pair_design.TYPICALITY_COLUMNS
PAIR_CONSTRUCTIONS = ("distinct", "paper")
TIE_POLICIES = ("drop", "half")
DEFAULT_BETAS = (0.01, 0.05, 0.1, 0.5)  # KL coefficients results.json's `sharpening` translates alpha for
DEFAULT_MIN_PAIRS = 30  # a group with fewer pairs gives an alpha too noisy to tell annotators apart: pooled into one (stats/groups.py)
MIN_PAIRS = 10  # below this no fit is attempted (stats/pairwise_logit.py)


def check_betas(betas) -> tuple[float, ...]:
    """The KL coefficients to translate alpha for; each must be a positive finite number."""
    values = tuple(float(beta) for beta in betas)
    bad = [beta for beta in values if not (math.isfinite(beta) and beta > 0)]
    if bad or not values:
        raise TypicalityError(f"--beta takes positive KL coefficients (e.g. 0.05 0.1), got {', '.join(map(str, bad)) or 'none'}.")
    return tuple(sorted(set(values)))


BOTH = ("fit", "audit")


def flag(default, flag: str, help: str, *, commands: tuple[str, ...] = BOTH, **argparse_settings):
    """A field of AnalysisOptions with its command-line flag: the name, the help, and argparse's type, nargs, choices, metavar.

    `commands`: the sub-commands that take it (the CLI loops over these; `fit` and `audit` share one declaration).
    """
    metadata = {"flag": flag, "help": help, "commands": commands, **argparse_settings}
    return dataclasses.field(default=default, metadata=metadata)


CONTROLS_HELP = (
    "fit exactly these controls (length, or a rating such as correctness); default: the robustness set; "
    "`style` adds one row with Arena's style controls (length, markdown headers, lists, bold) to either"
)


@dataclass(frozen=True)
class AnalysisOptions:
    """What `analyze` fits; valid when built (every value is checked in `__post_init__`), so nothing checks it again.

    `controls=None` runs the default robustness set (module docstring); `slices=None` every slice.
    Each field's metadata declares its `fit`/`audit` flag (cli.add_analysis_options loops over them).
    """

    controls: list[str] | None = flag(None, "--controls", CONTROLS_HELP, nargs="*", metavar="NAME")
    slices: list[str] | None = flag(
        None, "--slice", "slices to fit: all, equal-correctness, COLUMN=VALUE or COLUMN (default: every slice the data has)",
        commands=("fit",), nargs="+", metavar="NAME",
    )
    typicalities: tuple[str, ...] = flag(
        TYPICALITIES, "--typicality", "typicality definitions to fit (default both)", commands=("fit",), nargs="+", choices=TYPICALITIES
    )
    # audit: the loader's --seed (one seed for the sample, the pairs' orientation and the bootstrap)
    seed: int = flag(0, "--seed", "seed for pair orientation and the bootstrap (default 0)", commands=("fit",), type=int)
    bootstrap: int = flag(0, "--bootstrap", "also a cluster bootstrap with N draws per fit (default 0: off)", type=int, metavar="N")
    ties: str = flag("drop", "--ties", "drop tied pairs (default) or keep them with label 0.5", choices=TIE_POLICIES)
    # Inference a referee would accept (stats/validity.py):
    change_draws: int = flag(
        200, "--change-draws", "cluster-bootstrap draws for the CI of the change in alpha with the length control (default 200; 0: off)",
        type=int, metavar="N",
    )
    one_pair_per_prompt: bool = flag(
        False, "--one-pair-per-prompt", "agreement rate on one pair drawn per prompt (seeded), as the paper's agreement tables", action="store_true"
    )
    # pair construction: "distinct" (distinct responses, random orientation) or "paper" (stats/paper_pairs.py); --pairs is its old name
    pairs: str = flag(
        "distinct", "--pair-construction",
        "how pairs are formed: distinct responses, random orientation (default), or the paper's (every pair of rows, dataset order, intercept)",
        choices=PAIR_CONSTRUCTIONS, old_flag="--pairs",
    )
    negative_control: bool = flag(
        False, "--negative-control", "also score each response without its prompt and fit the fluency negative control (doubles scoring)",
        commands=("audit",), action="store_true",
    )
    betas: tuple[float, ...] = flag(
        DEFAULT_BETAS, "--beta", "KL coefficients to translate alpha into gamma = 1 + alpha/beta for (default 0.01 0.05 0.1 0.5)",
        type=float, nargs="+", metavar="BETA",
    )
    by: str | None = flag(
        None, "--by", "also fit the headline per group of a comparison column (annotator, domain, language, ...), partially pooled", metavar="COLUMN"
    )
    min_group_pairs: int = flag(
        DEFAULT_MIN_PAIRS, "--min-group-pairs", "with --by: groups with fewer pairs are pooled into one (default 30)", type=int, metavar="N"
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "typicalities", tuple(self.typicalities))  # a list where a tuple is meant; a frozen dataclass sets through object
        unknown = [name for name in self.typicalities if name not in TYPICALITIES]
        if unknown or not self.typicalities:
            raise TypicalityError(f"Unknown typicality {', '.join(unknown) or '(none given)'}; use {', '.join(TYPICALITIES)}.")
        if self.ties not in TIE_POLICIES:
            raise TypicalityError(f"--ties must be one of {', '.join(TIE_POLICIES)}, got '{self.ties}'.")
        if self.bootstrap < 0:
            raise TypicalityError(f"--bootstrap must be 0 (off) or a number of draws, got {self.bootstrap}.")
        if self.change_draws < 0:
            raise TypicalityError(f"--change-draws must be 0 (off) or a number of bootstrap draws, got {self.change_draws}.")
        if self.pairs not in PAIR_CONSTRUCTIONS:
            raise TypicalityError(f"--pair-construction must be one of {', '.join(PAIR_CONSTRUCTIONS)}, got '{self.pairs}'.")
        object.__setattr__(self, "betas", check_betas(self.betas))
        if self.by is not None and (not isinstance(self.by, str) or not self.by):
            raise TypicalityError(f"--by must name a column of the comparisons (annotator, domain, ...), got {self.by!r}.")
        if self.min_group_pairs < MIN_PAIRS:
            raise TypicalityError(f"--min-group-pairs must be at least {MIN_PAIRS} (the fewest pairs any fit accepts), got {self.min_group_pairs}.")

    @classmethod
    def flags(cls, command: str) -> list[dataclasses.Field]:
        """The fields the sub-command `command` ("fit" or "audit") takes as flags, in declaration order."""
        return [field for field in fields(cls) if command in field.metadata.get("commands", ())]

    def to_dict(self) -> dict:
        content = {**asdict(self), "typicalities": list(self.typicalities)}
        if self.by is None:  # results.json's settings without --by stay as they were before it existed
            del content["by"], content["min_group_pairs"]
        return content

    @classmethod
    def from_dict(cls, values: dict) -> "AnalysisOptions":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypicalityError(f"Unknown analysis option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        return cls(**values)
