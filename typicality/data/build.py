"""Shared construction of `PreferenceData` from judged pairs or from ratings.

Loaders only parse their source's format; the canonical tables, ids, de-duplication
and the counted drops are built here, the same way for every source.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from typicality.data.preference_data import (
    COMPARISON_COLUMNS,
    RESPONSE_COLUMNS,
    Accounting,
    PreferenceData,
    prompt_id_for,
    response_id_for,
)


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

    Drops (counted): an empty prompt, an empty response, identical responses, a missing label.
    """
    pair_metadata = pair_metadata or {}
    response_rows: dict[str, dict] = {}
    comparison_rows = []
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
        row = {"prompt_id": prompt_id, "response_a": ids[0], "response_b": ids[1], "label": float(label)}
        row.update({key: values[index] for key, values in pair_metadata.items()})
        comparison_rows.append(row)
    responses = pd.DataFrame(list(response_rows.values()), columns=RESPONSE_COLUMNS)
    comparisons = pd.DataFrame(comparison_rows, columns=COMPARISON_COLUMNS + list(pair_metadata))
    return PreferenceData(name=name, responses=responses, comparisons=comparisons, accounting=accounting, kind="pairwise", **info)


def from_ratings(
    name: str,
    rated: pd.DataFrame,
    preference: str,
    rating_columns: list[str],
    accounting: Accounting,
    correctness: str | None = None,
    **info,
) -> PreferenceData:
    """Canonical data from rated responses: every within-prompt pair, judged by `preference`.

    `rated` has columns prompt, response and the numeric `rating_columns` (NaN when absent).
    Pairs are (i, j) with i before j in source order; label 1 when i has the higher
    `preference` rating, 0 when lower, 0.5 on a tie (ties are kept here; the stats stage
    decides what to do with them). Drops (counted): empty prompt or response, a response
    repeated under the same prompt, a missing `preference` rating.
    """
    rated = rated.reset_index(drop=True)
    for column in rating_columns:
        rated[column] = pd.to_numeric(rated[column], errors="coerce").astype(float)
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

    comparison_rows = []
    for prompt_id, group in responses.groupby("prompt_id", sort=False):
        scores = group[preference].to_numpy()
        ids = group["response_id"].to_numpy()
        for i, j in itertools.combinations(range(len(group)), 2):
            label = 1.0 if scores[i] > scores[j] else 0.0 if scores[i] < scores[j] else 0.5
            comparison_rows.append({"prompt_id": prompt_id, "response_a": ids[i], "response_b": ids[j], "label": label})
    comparisons = pd.DataFrame(comparison_rows, columns=COMPARISON_COLUMNS)
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
        **info,
    )
