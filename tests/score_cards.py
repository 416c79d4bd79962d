"""The one builder of score cards for tests: a card as the transformers scorer writes it, any field overridden.

Tests build cards here instead of copying the scorer's keys by hand; a field added to
`typicality.results.ScoreCard` is added to the cards of every test at once (or left None).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from typicality.results import ScoreCard

MODEL = "gemma-3-270m"
FINGERPRINT = f"{MODEL}@0123456789abcdef|transformers|float32|bos=on|template=off|window=32768|scorer=1"


def score_card(table: pd.DataFrame | None = None, **fields) -> ScoreCard:
    """A transformers scorer's card (the keys of reports/hh-rlhf-helpful-base/scores.card.json, values made up).

    Counts come from `table` (a scores table) when given; `fields` override any field.
    """
    n = int(len(table)) if table is not None else 0
    values = dict(
        name=MODEL,
        revision="gguf-sha256:" + "ab" * 32,
        backend="transformers",
        dtype="float32",
        bos=True,
        chat_template=False,
        window=32768,
        scorer_version="1",
        model=MODEL,
        fingerprint=FINGERPRINT,
        device="cpu",
        batch_tokens=4096,
        bos_policy="auto",
        device_map=None,
        torch_threads=2,
        context_sharing="packed rows (a prompt's responses share one pass)",
        output_layer="response positions only",
        config_window=32768,
        n_responses=n,
        n_scored=n,
        n_computed=n,
        prompt_truncated=int(table["prompt_truncated"].sum()) if table is not None else 0,
        response_truncated=int(table["truncated"].sum()) if table is not None else 0,
        boundary_merged=int(table["boundary_merged"].sum()) if table is not None else 0,
        skipped={},
        shard=None,
        compute_s=12.25,
        tokens_per_s=1234.5,
        software={"torch": "2.13.0+cpu", "transformers": "5.23.0", "typicality": "0.1.0"},
        n_from_cache=0,
        elapsed_s=13.5,
    )
    values.update(fields)
    # The card holds every key given here, null ones too (the scorer writes device_map and shard when unset), in the scorer's order.
    keys = tuple(f.name for f in dataclasses.fields(ScoreCard) if f.name in values)
    return ScoreCard(**values, keys=keys)
