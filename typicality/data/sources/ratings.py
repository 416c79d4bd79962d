"""Generic rated responses from any local or Hub file (`--data-files`, hf://datasets/... for the Hub).

Columns `prompt, response` and any numeric rating columns (other names mapped with
`--columns new=old,...`), one row per response; rows with the same prompt form a group.
The preference is the rating named by `--rating`; without it, the file's only numeric column.
A higher rating is preferred; `--rating COLUMN:lower` states that a lower one is (a rank, 1 =
best: the preference is then the column `COLUMN_negated`, kept beside the original). A column
named like a rank (`rank`, `ranking`, `*_rank`, `position`, `place`) is refused without `:lower`
or `:higher`: read as higher-is-better, a rank inverts every label.
Comparisons are every within-prompt pair, ties kept as 0.5; a missing (NaN, null, "N/A")
preference rating drops that response, counted. `correctness` is the column named
`correctness` when there is one (or the `correctness=` option of `typicality.data.load`).
A message-list prompt is rendered by `typicality.data.render.render_prompt`. A prompt or
response column of JSON-encoded turn lists (`typicality.data.encoded_turns`) is decoded when each
value is one turn (or, for prompts, a message list) and refused otherwise: a rated response is one
text, so several turns cannot be scored as one.
"""

from __future__ import annotations

import dataclasses
import re

import datasets
import pandas as pd

from typicality.data.build import from_ratings
from typicality.data.encoded_turns import decode_column, is_encoded_column, repaired_note
from typicality.data.reading import read_rows
from typicality.data.render import is_conversation, render_prompt
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData
from typicality.errors import TypicalityError

NUMERIC_DTYPES = ("int", "uint", "float", "double", "decimal")
DIRECTIONS = ("higher", "lower")
RANK_NAME = re.compile(r"(^|_)(rank|ranking|position|place)$", re.IGNORECASE)


def numeric_columns(rows: datasets.Dataset, exclude: set[str]) -> list[str]:
    """Columns whose type is a number (flags and text are not ratings)."""
    return [
        name
        for name, feature in rows.features.items()
        if name not in exclude and isinstance(feature, datasets.Value) and feature.dtype.startswith(NUMERIC_DTYPES)
    ]


def load_ratings(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    rows, provenance = read_rows(request, None, ["prompt", "response"], split)
    where = ", ".join(request.data_files)
    ratings = numeric_columns(rows, {"prompt", "response"})
    preference, direction = _rating_direction(request.rating, where)
    if preference is None:
        if len(ratings) != 1:
            found = ", ".join(ratings) or "none"
            raise TypicalityError(f"{where}: pass --rating COLUMN to say which rating decides preferences (numeric columns: {found}).")
        preference = ratings[0]
        if RANK_NAME.search(preference):
            direction = _rating_direction(preference, where)[1]  # a rank-like name must say its direction
    elif preference not in rows.column_names or preference in ("prompt", "response"):
        raise TypicalityError(f"{where}: --rating {preference} names no rating column; found {', '.join(rows.column_names)}.")
    elif preference not in ratings:
        ratings.append(preference)  # a text column of numbers ("4", "N/A"): from_ratings makes it numeric
    correctness = request.correctness or ("correctness" if "correctness" in ratings else None)
    if correctness is not None and correctness not in ratings:
        raise TypicalityError(f"{where}: correctness column '{correctness}' is not a numeric column; numeric columns: {', '.join(ratings)}.")
    rated = rows.select_columns(["response", *ratings]).to_pandas()
    if pd.to_numeric(rated[preference], errors="coerce").notna().sum() == 0:
        raise TypicalityError(f"{where}: the rating column '{preference}' holds no numbers; choose another with --rating.")
    stated = preference
    if direction == "lower":  # the preference is the negated column, so that higher is preferred as everywhere else
        preference = f"{stated}_negated"
        rated[preference] = -pd.to_numeric(rated[stated], errors="coerce")
        ratings.append(preference)
    # Message-list prompts are rendered; anything else that is not text counts as an empty prompt.
    accounting = Accounting(rows_read=len(rows))
    prompts = [render_prompt(p) if is_conversation(p) else p if isinstance(p, str) else None for p in _single_texts(rows, "prompt", where, accounting)]
    rated.insert(0, "prompt", prompts)
    rated["response"] = _single_texts(rows, "response", where, accounting)
    data = from_ratings(
        "ratings",
        rated,
        preference,
        ratings,
        accounting,
        correctness=correctness,
        split=request.split,
        source=where,
        provenance=provenance,
    )
    return data if direction == "higher" else dataclasses.replace(data, preference=f"lower {stated} rating (as {preference})")


def _rating_direction(rating: str | None, where: str) -> tuple[str | None, str]:
    """(column, "higher" or "lower") from `--rating COLUMN[:higher|:lower]`; a rank-like column must state its direction."""
    if rating is None:
        return None, "higher"
    column, _, direction = rating.rpartition(":") if rating.endswith(tuple(f":{d}" for d in DIRECTIONS)) else (rating, "", "")
    if not direction and RANK_NAME.search(column):
        raise TypicalityError(
            f"{where}: the rating column '{column}' is named like a rank, where a lower value may be the better one; say which with "
            f"--rating {column}:lower (1 = best) or --rating {column}:higher."
        )
    return column, direction or "higher"



def _single_texts(rows: datasets.Dataset, column: str, where: str, accounting: Accounting) -> list:
    """The column's values; a JSON-encoded column decoded to its one turn per row (several turns are refused)."""
    values = list(rows[column])
    if not is_encoded_column(values[:100]):
        return values
    decoded, repaired = decode_column(values, column, where)
    if repaired:
        accounting.notes.append(repaired_note(repaired))
    out = []
    for row, turns in enumerate(decoded):
        if turns is None or (column == "prompt" and is_conversation(turns)):
            out.append(turns)
        elif len(turns) == 1 and isinstance(turns[0], str):
            out.append(turns[0])
        else:
            raise TypicalityError(
                f"{where}: column {column} holds JSON-encoded turn lists, and row {row} is not one text turn ({len(turns)} items); a rated "
                "response is one text judged after one prompt. Keep one turn per row (a prompt may also be a {role, content} message list)."
            )
    return out
