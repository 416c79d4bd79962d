"""Shared construction of `PreferenceData` from judged pairs or from ratings.

Loaders only parse their source's format; the canonical tables, ids, de-duplication
and the counted drops are built here, the same way for every source.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from typicality.domain import (
    ANNOTATOR_COLUMN,
    COMPARISON_COLUMNS,
    RESPONSE_COLUMNS,
    Accounting,
    PreferenceData,
    prompt_id_for,
    response_id_for,
)
from typicality.errors import TypicalityError

# The drop reason of a comparison that repeats an earlier one exactly (from_pairs).
DUPLICATE_COMPARISON = "duplicate comparison (same prompt, responses and judgement)"


def is_blank(text) -> bool:
    return not isinstance(text, str) or not text.strip()


def from_pairs(
    name: str,
    prompts: Sequence[str],
    responses_a: Sequence[str],
    responses_b: Sequence[str],
    labels: Sequence[float],
    accounting: Accounting,
    pair_metadata: dict[str, Sequence] | None = None,
    **info,
) -> PreferenceData:
    """Canonical data from judged pairs; label 1 = a preferred, 0 = b preferred, 0.5 = tie.

    Drops (counted): an empty prompt, an empty response, identical responses, a missing label,
    and an exact duplicate of an earlier comparison (`DUPLICATE_COMPARISON`, see `_judgement_key`).
    """
    pair_metadata = pair_metadata or {}
    annotators = pair_metadata.get(ANNOTATOR_COLUMN)
    response_rows: dict[str, dict] = {}
    comparison_rows = []
    judgements: set[tuple] = set()  # each distinct judgement seen (`_judgement_key`)
    labels_by_pair: dict[tuple, set[float]] = {}  # each (prompt, responses) -> the labels it was given, oriented as in its key
    for index, (prompt, text_a, text_b, label) in enumerate(zip(prompts, responses_a, responses_b, labels)):
        if is_blank(prompt):
            accounting.drop("empty prompt")
            continue
        if is_blank(text_a) or is_blank(text_b):
            accounting.drop("empty response")
            continue
        if text_a == text_b:
            accounting.drop("identical responses")
            continue
        if label is None or (isinstance(label, float) and np.isnan(label)):
            accounting.drop("missing label")
            continue
        prompt_id = prompt_id_for(prompt)
        ids = []
        for text in (text_a, text_b):
            response_id = response_id_for(prompt, text)
            response_rows.setdefault(
                response_id,
                {"prompt_id": prompt_id, "prompt": prompt, "response_id": response_id, "response": text},
            )
            ids.append(response_id)
        key, oriented_label = _judgement_key(prompt_id, ids[0], ids[1], float(label), annotators[index] if annotators is not None else None)
        if key in judgements:
            accounting.drop(DUPLICATE_COMPARISON)
            continue
        judgements.add(key)
        labels_by_pair.setdefault(key[:3], set()).add(oriented_label)
        row = {"prompt_id": prompt_id, "response_a": ids[0], "response_b": ids[1], "label": float(label)}
        row.update({key: values[index] for key, values in pair_metadata.items()})
        comparison_rows.append(row)
    conflicting = sum(len(labels) > 1 for labels in labels_by_pair.values())
    if conflicting:
        accounting.notes.append(
            f"{conflicting} pairs of responses are judged more than once with different labels; "
            "each judgement is kept (repeated judgements, clustered by prompt)."
        )
    responses = pd.DataFrame(list(response_rows.values()), columns=RESPONSE_COLUMNS)
    comparisons = pd.DataFrame(comparison_rows, columns=COMPARISON_COLUMNS + list(pair_metadata))
    return PreferenceData(name=name, responses=responses, comparisons=comparisons, accounting=accounting, kind="pairwise", **info)


def _judgement_key(prompt_id: str, id_a: str, id_b: str, label: float, annotator) -> tuple[tuple, float]:
    """What makes two comparisons the same judgement, and the label as the key orients the pair.

    An exact duplicate is the same prompt, the same two responses in either order, and the same
    verdict once the order is aligned (a preferred over b is b not preferred over a); a copied row
    adds no information but would count as an independent pair and narrow every interval. The
    same pair with a different verdict (or a tie against a win) is not a duplicate: it is a real
    repeated judgement (two annotators, or one changing their mind), and keeping it is what lets
    disagreement lower the agreement; the fits cluster by prompt, so such repeats are not counted
    as independent prompts. The same verdict from a different annotator (`ANNOTATOR_COLUMN`) is a
    second judgement too, and kept.
    """
    low, high = sorted((id_a, id_b))
    oriented = label if (id_a, id_b) == (low, high) else 1.0 - label
    return (prompt_id, low, high, oriented, None if annotator is None else str(annotator)), oriented


def from_ratings(
    name: str,
    rated: pd.DataFrame,
    preference: str,
    rating_columns: list[str],
    accounting: Accounting,
    correctness: str | None = None,
    prompt_metadata: Sequence[str] = (),
    **info,
) -> PreferenceData:
    """Canonical data from rated responses: every within-prompt pair, judged by `preference`.

    `rated` has columns prompt, response and the numeric `rating_columns` (NaN when absent).
    Pairs are (i, j) with i before j in source order; label 1 when i has the higher
    `preference` rating, 0 when lower, 0.5 on a tie (ties are kept here; the stats stage
    decides what to do with them). Drops (counted): empty prompt or response, a response
    repeated under the same prompt, a missing `preference` rating. `prompt_metadata` names
    columns of `rated` that describe the prompt (e.g. UltraFeedback's `source`); each pair
    carries them, taken from its prompt's first row.
    """
    rated = rated.reset_index(drop=True)
    for column in rating_columns:
        rated[column] = pd.to_numeric(rated[column], errors="coerce").astype(float)
        _refuse_infinite(rated[column], column, info.get("source") or name)
    blank_prompt = rated["prompt"].map(is_blank)
    accounting.drop("empty prompt", int(blank_prompt.sum()))
    rated = rated[~blank_prompt]
    blank_response = rated["response"].map(is_blank)
    accounting.drop("empty response", int(blank_response.sum()))
    rated = rated[~blank_response]
    duplicated = rated.duplicated(["prompt", "response"])
    accounting.drop("response repeated under the same prompt", int(duplicated.sum()))
    rated = rated[~duplicated]
    no_preference = rated[preference].isna()
    accounting.drop(f"missing {preference} rating", int(no_preference.sum()))
    rated = rated[~no_preference].copy()

    rated["prompt_id"] = [prompt_id_for(p) for p in rated["prompt"]]
    rated["response_id"] = [response_id_for(p, r) for p, r in zip(rated["prompt"], rated["response"])]
    responses = rated[RESPONSE_COLUMNS + rating_columns].reset_index(drop=True)
    comparisons = _within_prompt_pairs(responses, preference, rated[list(prompt_metadata)].reset_index(drop=True))
    single = responses.groupby("prompt_id")["response_id"].transform("size") < 2
    if single.any():
        accounting.notes.append(f"{int(single.sum())} responses are alone under their prompt and form no pair.")
    return PreferenceData(
        name=name,
        responses=responses,
        comparisons=comparisons,
        accounting=accounting,
        kind="rated",
        rating_columns=list(rating_columns),
        correctness=correctness,
        preference=f"higher {preference} rating",
        preference_rating=preference,
        **info,
    )


def _refuse_infinite(values: pd.Series, column: str, where: str) -> None:
    """An infinite rating is not a rating: refused by name rather than dropped.

    A rating of inf would decide every pair it is in and turn the rating control into a column of
    infinite differences (fitted without it, or NaN); dropping it silently would hide a data error
    (an overflow or a sentinel upstream) that the user must fix in the file.
    """
    infinite = np.isinf(values.to_numpy(dtype=float))
    if infinite.any():
        raise TypicalityError(
            f"{where}: the rating column '{column}' holds {int(infinite.sum()):,} infinite values (inf or -inf), which are not ratings. "
            "Replace them with a finite rating, or leave them empty (null) to count those responses as unrated."
        )


def _within_prompt_pairs(responses: pd.DataFrame, preference: str, prompt_metadata: pd.DataFrame) -> pd.DataFrame:
    """Every (i, j) pair, i before j in source order, of the responses under each prompt.

    Plain arrays rather than a pandas groupby: a per-group loop in pandas takes seconds per
    10k prompts, this takes a fraction of that.
    """
    if len(responses) == 0:
        return pd.DataFrame(columns=COMPARISON_COLUMNS + list(prompt_metadata.columns))
    codes, _ = pd.factorize(responses["prompt_id"])  # prompts numbered in order of first appearance
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    first_index, second_index = [], []
    for start, end in zip(starts, ends):
        for i, j in itertools.combinations(order[start:end], 2):
            first_index.append(i)
            second_index.append(j)
    first, second = np.array(first_index, dtype=int), np.array(second_index, dtype=int)
    scores = responses[preference].to_numpy(dtype=float)
    ids = responses["response_id"].to_numpy(dtype=object)
    comparisons = pd.DataFrame(
        {
            "prompt_id": responses["prompt_id"].to_numpy(dtype=object)[first],
            "response_a": ids[first],
            "response_b": ids[second],
            "label": np.sign(scores[first] - scores[second]) / 2 + 0.5,  # 1, 0 or 0.5 on a tie
        },
        columns=COMPARISON_COLUMNS,
    )
    group_first_row = np.empty(len(order), dtype=int)
    group_first_row[order] = np.repeat(order[starts], ends - starts)  # each row -> its prompt's first row
    for column in prompt_metadata.columns:  # the prompt's first row describes it
        comparisons[column] = prompt_metadata[column].to_numpy(dtype=object)[group_first_row[first]]
    return comparisons


def parse_labels(values: Sequence, where: str, allowed: tuple[float, ...] = (1.0, 0.0, 0.5)) -> list[float]:
    """Labels as floats (NaN where missing, counted later by `from_pairs`); any other value is a user error."""
    given = pd.Series(list(values), dtype=object)
    numbers = pd.to_numeric(given, errors="coerce").astype(float)
    bad = given.notna() & ~numbers.isin(allowed)
    if bad.any():
        examples = sorted({repr(value) for value in given[bad]})[:5]
        meaning = {1.0: "1 (a preferred)", 0.0: "0 (b preferred)", 0.5: "0.5 (tie)"}
        raise TypicalityError(
            f"{where}: {int(bad.sum())} labels are not {' or '.join(meaning[a] for a in allowed)}; "
            f"found {', '.join(examples)}. Convert the labels, or map another column with --columns label=COLUMN."
        )
    return numbers.tolist()
