"""The pair design: each judged pair as differences in typicality, length and ratings, oriented at random.

`build_pairs` returns a `PairDesign` (typicality.audit_folder): `frame`, one row per usable
pair, and what was dropped and why (`accounting`), the correctness rating, the columns a slice
can be taken on, the seed and the tie policy. The frame's columns:

- `prompt_id` (the cluster), `comparison` (row of `data.comparisons`), `response_a`,
  `response_b`, `label` (1 = a preferred, 0 = b preferred, 0.5 = a kept tie), `flipped`
  (True when a and b were swapped relative to the source);
- per side: `mean_logprob_a/_b`, `sum_logprob_a/_b`, `n_tokens_a/_b`, `truncated_a/_b`,
  and every rating `<rating>_a/_b`;
- differences a minus b: `delta_mean_logprob`, `delta_sum_logprob`, `delta_log_tokens`
  (log token count) and `delta_<rating>` for every rating (NaN when a rating is absent);
- the comparisons' own metadata columns (subset, domain, ...), for slices.

Orientation: the fitted logit has no intercept, and for such a model a pair (y, x) and its
flip (1 - y, -x) contribute the same likelihood, score and Hessian, so the fit does not
depend on orientation at all; orienting at random (seeded) keeps the label balanced and
the descriptive tables free of the source's order (HH-RLHF lists the chosen response first).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from typicality.domain import COMPARISON_COLUMNS, PairDesign, PreferenceData, ScoreResult
from typicality.errors import TypicalityError, require_type
from typicality.results import EQUAL_CORRECTNESS, LENGTH_CONTROL, PairAccounting  # noqa: F401  (the slice and control names results.json uses)
from typicality.stats.options import TIE_POLICIES  # noqa: F401  (part of this module's interface)
from typicality.stats.scores_table import CheckedScores, check_scores, require_scores

TYPICALITY_COLUMNS = {"mean_logprob": "delta_mean_logprob", "sum_logprob": "delta_sum_logprob"}
SLICE_COLUMNS = ("subset", "domain", "source", "category", "language")  # metadata sliced on by default
ALL_PAIRS = "all"
# A metadata column is split into default slices only when its values look like categories: with more than
# MAX_SLICE_VALUES distinct values it is a free-text or id column (one fit per value would be noise, and thousands
# of rows in every table); the bound is far above the subsets, domains and languages of the supported sources.
# Naming the column (--slice COLUMN) still fits one slice per value.
MAX_SLICE_VALUES = 50
# A response the reference model reproduces almost token for token (stats/memorization.py says why):
# exp(mean log-prob) >= 0.7. Defined here because the `not-memorized` slices are slices.
MEMORIZED_PROBABILITY = 0.7
MEMORIZED_MEAN_LOGPROB = math.log(MEMORIZED_PROBABILITY)
NOT_MEMORIZED = "not-memorized"


def build_pairs(data: PreferenceData, scores: ScoreResult | CheckedScores | pd.DataFrame, *, seed: int = 0, ties: str = "drop") -> PairDesign:
    """One row per judged pair with both responses scored: deltas, oriented label, cluster and metadata."""
    require_type("build_pairs", "data", data, PreferenceData, "a PreferenceData", "load it with typicality.load(...)")
    require_scores("build_pairs", scores)
    if ties not in TIE_POLICIES:
        raise TypicalityError(f"ties must be one of {', '.join(TIE_POLICIES)}, got '{ties}'.")
    scores = check_scores(scores)
    comparisons = data.comparisons.reset_index(drop=True)
    missing = [column for column in COMPARISON_COLUMNS if column not in comparisons.columns]
    if missing:
        raise TypicalityError(f"The comparisons of dataset '{data.name}' lack {', '.join(missing)}; rebuild the data folder.")
    responses = data.responses.drop_duplicates("response_id")
    lookup = _ScoreLookup(scores.table, responses)
    position_a = lookup.usable_index.get_indexer(_strings(comparisons["response_a"]))
    position_b = lookup.usable_index.get_indexer(_strings(comparisons["response_b"]))

    # Orientation is drawn for every comparison before any drop, so a pair's orientation
    # does not depend on which other pairs a given scores table leaves out.
    rng = np.random.default_rng(seed)
    flip_all = rng.random(len(comparisons)) < 0.5
    label = _labels(comparisons, data.name)
    keep, dropped = _kept_pairs(label, position_a, position_b, ties)

    flip = flip_all[keep]
    first, second = position_a[keep], position_b[keep]
    side_a, side_b = np.where(flip, second, first), np.where(flip, first, second)
    columns = {
        "prompt_id": _strings(comparisons["prompt_id"])[keep],
        "comparison": np.flatnonzero(keep),
        "response_a": lookup.usable_index.to_numpy()[side_a],
        "response_b": lookup.usable_index.to_numpy()[side_b],
        "label": np.where(flip, 1.0 - label[keep], label[keep]),
        "flipped": flip,
    }
    columns.update(_score_columns(lookup.usable, side_a, side_b))
    ratings = [column for column in data.rating_columns if column in responses.columns]
    columns.update(_rating_columns(responses, ratings, columns["response_a"], columns["response_b"]))
    metadata = [column for column in comparisons.columns if column not in COMPARISON_COLUMNS and column not in columns]
    for column in metadata:
        columns[column] = comparisons[column].to_numpy()[keep]
    frame = pd.DataFrame(columns)

    accounting = PairAccounting(
        comparisons=int(len(comparisons)),
        pairs=int(len(frame)),
        dropped={reason: count for reason, count in dropped.items() if count},
        **lookup.accounting(),
        ties_kept_as_half=int((frame["label"] == 0.5).sum()),
    )
    return PairDesign(
        frame=frame,
        dataset=data.name,
        model=scores.fingerprint,
        seed=int(seed),
        ties=ties,
        ratings=ratings,
        correctness=data.correctness if data.correctness in ratings else None,
        metadata=metadata,
        slice_columns=[column for column in SLICE_COLUMNS if column in metadata],
        accounting=accounting,
    )


class _ScoreLookup:
    """The usable scores indexed by response id, and the accounting of the responses without one."""

    def __init__(self, scores: pd.DataFrame, responses: pd.DataFrame) -> None:
        usable_rows = scores["usable"].to_numpy()
        self.usable = scores[usable_rows]
        self.usable_index = pd.Index(_strings(self.usable["response_id"]))
        unusable = scores[~usable_rows]
        response_index = pd.Index(_strings(responses["response_id"]))
        bad_position = pd.Index(_strings(unusable["response_id"])).get_indexer(response_index)
        self._bad_score = bad_position >= 0
        self._reasons = Counter(unusable["unusable_reason"].to_numpy()[bad_position[self._bad_score]])
        self._n_responses = len(responses)
        self._n_unscored = int(((self.usable_index.get_indexer(response_index) < 0) & ~self._bad_score).sum())

    def accounting(self) -> dict:
        return {
            "responses": int(self._n_responses),
            "responses_without_score": self._n_unscored,
            "responses_with_unusable_score": int(self._bad_score.sum()),
            "unusable_scores": {str(reason): int(count) for reason, count in self._reasons.items()},
        }


def _labels(comparisons: pd.DataFrame, dataset: str) -> np.ndarray:
    label = pd.to_numeric(comparisons["label"], errors="coerce").to_numpy(dtype=float)
    bad_label = ~np.isnan(label) & ~np.isin(label, [0.0, 0.5, 1.0])
    if bad_label.any():
        raise TypicalityError(
            f"Dataset '{dataset}' has {int(bad_label.sum())} labels other than 1, 0 or 0.5 (e.g. {label[bad_label][0]}); fix the loader."
        )
    return label


def _kept_pairs(label: np.ndarray, position_a: np.ndarray, position_b: np.ndarray, ties: str) -> tuple[np.ndarray, Counter]:
    """Which comparisons become pairs, and the others counted by the first reason that drops them."""
    dropped: Counter = Counter()
    keep = np.ones(len(label), dtype=bool)
    for reason, mask in (
        ("missing label", np.isnan(label)),
        ("a response has no usable score", (position_a < 0) | (position_b < 0)),
        ("tie (ties='drop')", (label == 0.5) if ties == "drop" else np.zeros(len(label), dtype=bool)),
    ):
        dropped[reason] += int((keep & mask).sum())
        keep &= ~mask
    return keep, dropped


def _score_columns(usable: pd.DataFrame, side_a: np.ndarray, side_b: np.ndarray) -> dict:
    columns = {}
    for column in ("mean_logprob", "sum_logprob", "n_tokens", "truncated"):
        values = usable[column].to_numpy()
        columns[f"{column}_a"], columns[f"{column}_b"] = values[side_a], values[side_b]
    columns["delta_mean_logprob"] = columns["mean_logprob_a"] - columns["mean_logprob_b"]
    columns["delta_sum_logprob"] = columns["sum_logprob_a"] - columns["sum_logprob_b"]
    columns["delta_log_tokens"] = np.log(columns["n_tokens_a"].astype(float)) - np.log(columns["n_tokens_b"].astype(float))
    return columns


def _rating_columns(responses: pd.DataFrame, ratings: list[str], response_a: np.ndarray, response_b: np.ndarray) -> dict:
    response_index = pd.Index(_strings(responses["response_id"]))
    rating_a = response_index.get_indexer(response_a)
    rating_b = response_index.get_indexer(response_b)
    columns = {}
    for rating in ratings:
        # A pair may name a response absent from `responses` (a broken folder): its rating is NaN then.
        values = np.append(pd.to_numeric(responses[rating], errors="coerce").to_numpy(dtype=float), np.nan)
        columns[f"{rating}_a"], columns[f"{rating}_b"] = values[rating_a], values[rating_b]
        columns[f"delta_{rating}"] = columns[f"{rating}_a"] - columns[f"{rating}_b"]
    return columns


def _strings(values: pd.Series) -> np.ndarray:
    """Ids as a plain object array of str (fast hash look-ups, whatever the frame's string dtype)."""
    return values.astype(str).to_numpy(dtype=object)


def pair_accounting(design: PairDesign) -> PairAccounting:
    """What `build_pairs` kept and dropped, by reason."""
    if design.accounting is None:
        return PairAccounting.from_dict(
            {"comparisons": None, "pairs": int(len(design)), "dropped": {}, "note": "design built outside build_pairs: no accounting"}
        )
    return design.accounting


def control_column(name: str) -> str:
    """The design column of a control: `length` is delta log token count; a rating R is delta_R."""
    if name in (LENGTH_CONTROL, "log_tokens", "delta_log_tokens"):
        return "delta_log_tokens"
    return name if name.startswith("delta_") else f"delta_{name}"


def control_name(name: str) -> str:
    """The canonical user-facing name of a control (`length` for any spelling of it)."""
    column = control_column(name)
    return LENGTH_CONTROL if column == "delta_log_tokens" else column.removeprefix("delta_")


def available_controls(design: PairDesign) -> list[str]:
    """Control names a fit on this design accepts: length and every rating."""
    fixed = {"delta_log_tokens", *TYPICALITY_COLUMNS.values()}
    ratings = [column.removeprefix("delta_") for column in design.frame.columns if column.startswith("delta_") and column not in fixed]
    return [LENGTH_CONTROL, *ratings]


def available_slices(design: PairDesign) -> list[str]:
    """Every slice name this design supports: all, equal-correctness, COLUMN=VALUE for metadata."""
    names = [ALL_PAIRS]
    if design.correctness:
        names.append(EQUAL_CORRECTNESS)
    unsliced = unsliced_columns(design)
    for column in design.slice_columns:
        values = design.frame[column].dropna().unique()
        if len(values) > 1 and column not in unsliced:
            names.extend(f"{column}={value}" for value in sorted(map(str, values)))
    return names


def unsliced_columns(design: PairDesign) -> dict[str, str]:
    """The default slice columns whose values are too many to slice on by default, each with why (see MAX_SLICE_VALUES)."""
    reasons = {}
    for column in design.slice_columns:
        values = design.frame[column].dropna().astype(str)
        n_values = int(values.nunique())
        if n_values > MAX_SLICE_VALUES:
            reasons[column] = f"{n_values:,} distinct values (more than {MAX_SLICE_VALUES})"
    return reasons


def expand_slices(design: PairDesign, names: list[str] | None) -> list[str]:
    """Slice names as the user gave them, with a bare metadata COLUMN expanded to each of its values."""
    if not names:
        return available_slices(design)
    expanded: list[str] = []
    for name in names:
        if name == EQUAL_CORRECTNESS and not design.correctness:
            raise TypicalityError("The slice 'equal-correctness' needs a correctness rating, and this data has none.")
        if name in (ALL_PAIRS, EQUAL_CORRECTNESS) or "=" in name:
            expanded.append(name)
        elif name in design.metadata:
            expanded.extend(f"{name}={value}" for value in sorted(map(str, design.frame[name].dropna().unique())))
        else:
            raise TypicalityError(f"Unknown slice '{name}'. Slices of this data: {', '.join(available_slices(design))} (or a metadata column name).")
    return list(dict.fromkeys(expanded))


def select_slice(design: PairDesign, name: str) -> pd.DataFrame:
    """The pairs (frame rows) of one slice: `all`, `equal-correctness` (delta correctness exactly 0), or `COLUMN=VALUE`."""
    return design.frame[slice_mask(design, name)]


def slice_mask(design: PairDesign, name: str) -> np.ndarray:
    """Which pairs belong to a slice, as a boolean array over `design.frame` (the one place slices are defined)."""
    frame = design.frame
    if name == ALL_PAIRS:
        return np.ones(len(frame), dtype=bool)
    if name == EQUAL_CORRECTNESS:
        if not design.correctness:
            raise TypicalityError("The slice 'equal-correctness' needs a correctness rating, and this data has none.")
        return (frame[f"delta_{design.correctness}"] == 0).to_numpy()
    if base_slice(name) is not None:
        return slice_mask(design, base_slice(name)) & ~memorized_pairs(frame)
    if "=" in name:
        column, value = name.split("=", 1)
        if column not in frame.columns:
            raise TypicalityError(f"Unknown slice column '{column}' in '{name}'. Slices of this data: {', '.join(available_slices(design))}.")
        return (frame[column].astype(str) == value).to_numpy()
    raise TypicalityError(f"Unknown slice '{name}'. Slices of this data: {', '.join(available_slices(design))}.")


def slice_count(design: PairDesign, name: str) -> dict:
    """Pairs and prompts in one slice (results.json's `slices` entries)."""
    rows = design.frame[slice_mask(design, name)]
    return {"n_pairs": int(len(rows)), "n_prompts": int(rows["prompt_id"].nunique())}


def is_memorized(mean_logprob) -> np.ndarray:
    """True where exp(mean log-prob) >= 0.7; a missing score is not memorized."""
    values = np.nan_to_num(np.asarray(mean_logprob, dtype=float), nan=-np.inf)
    return values >= MEMORIZED_MEAN_LOGPROB  # the same test as exp(mean) >= 0.7, exact at the boundary


def memorized_pairs(frame: pd.DataFrame) -> np.ndarray:
    """Pairs (rows of a pair design) with at least one memorized response."""
    return is_memorized(frame["mean_logprob_a"]) | is_memorized(frame["mean_logprob_b"])


def not_memorized_slice(base: str) -> str:
    """The slice name of `base` without memorized pairs: `not-memorized` for all pairs, `BASE+not-memorized` otherwise."""
    return NOT_MEMORIZED if base == ALL_PAIRS else f"{base}+{NOT_MEMORIZED}"


def base_slice(name: str) -> str | None:
    """`not-memorized` -> all, `BASE+not-memorized` -> BASE; None for a slice that is not a not-memorized one."""
    if name == NOT_MEMORIZED:
        return ALL_PAIRS
    suffix = f"+{NOT_MEMORIZED}"
    return name[: -len(suffix)] if name.endswith(suffix) else None
