"""openbmb/UltraFeedback (raw): per instruction, up to four completions rated by GPT-4.

Each row: `source, instruction, models, completions[]`; each completion has `model,
principle, custom_system_prompt, response, critique, overall_score, fine-grained_score` and
`annotations{instruction_following, honesty, truthfulness, helpfulness}`, each holding a
string `Rating` ("1".."5", or "N/A"). The Hub's parquet stores each annotation as a dict;
the original GitHub JSON as a one-element list of dicts: both are read.

Ratings become numeric columns (`overall_score`, `fine_grained_score`,
`instruction_following`, `honesty`, `truthfulness`, `helpfulness`; "N/A" -> NaN). The prompt
is the instruction (the completions' system prompts only steered generation; the annotators
judged the response to the instruction). Comparisons are every within-instruction pair,
judged by the rating chosen with `--rating` (default `overall_score`), ties kept as 0.5.
`correctness` is `truthfulness` (GPT-4's 1-5 rating of factual accuracy and hallucination,
the closest stand-in for true quality; `honesty` stays available as a second control). Each
pair carries the instruction's `source` (evol_instruct, sharegpt, ...) for per-source slices.
"""

from __future__ import annotations

import pandas as pd

from typicality.data.build import from_ratings
from typicality.data.reading import read_rows
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData

HUB_ID = "openbmb/UltraFeedback"
ASPECTS = ("instruction_following", "honesty", "truthfulness", "helpfulness")
RATINGS = ("overall_score", "fine_grained_score") + ASPECTS
DEFAULT_RATING = "overall_score"


def aspect_rating(annotations, aspect: str) -> str | None:
    """The raw `Rating` string of one aspect, from a dict or a one-element list of dicts; None if absent."""
    value = (annotations or {}).get(aspect)
    if isinstance(value, list):
        value = value[0] if value else None
    return value.get("Rating") if isinstance(value, dict) else None


def rated_completions(rows, accounting: Accounting) -> pd.DataFrame:
    """One row per completion: prompt, response, source and the raw ratings (strings and numbers)."""
    records = []
    seen: set[str] = set()
    repeated = 0
    for row in rows:
        repeated += row["instruction"] in seen
        seen.add(row["instruction"])
        completions = row["completions"] or []
        if not completions:
            accounting.drop("instruction without completions")
        for completion in completions:
            if not isinstance(completion, dict):
                accounting.drop("completion is not an object")
                continue
            record = {
                "prompt": row["instruction"],
                "response": completion.get("response"),
                "source": row.get("source"),
                "overall_score": completion.get("overall_score"),
                "fine_grained_score": completion.get("fine-grained_score"),
            }
            for aspect in ASPECTS:
                record[aspect] = aspect_rating(completion.get("annotations"), aspect)
            records.append(record)
    if repeated:
        accounting.notes.append(f"{repeated} row(s) repeat an earlier instruction; their completions are pooled under one prompt.")
    return pd.DataFrame(records, columns=["prompt", "response", "source", *RATINGS])


def load_ultrafeedback(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    preference = request.rating or DEFAULT_RATING  # LoadRequest refused names outside RATINGS
    correctness = request.correctness or "truthfulness"
    rows, provenance = read_rows(request, HUB_ID, ["instruction", "completions"], split)
    accounting = Accounting(rows_read=len(rows))
    rated = rated_completions(rows, accounting)
    return from_ratings(
        "ultrafeedback",
        rated,
        preference,
        list(RATINGS),
        accounting,
        correctness=correctness,
        prompt_metadata=["source"],
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
    )
