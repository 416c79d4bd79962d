"""Small builders shared by the scorer tests."""

from __future__ import annotations

import pandas as pd

from typicality.domain import COMPARISON_COLUMNS, PreferenceData, prompt_id_for, response_id_for


def data_from_texts(pairs: list[tuple[str, str]], name: str = "handmade") -> PreferenceData:
    """PreferenceData with one response row per (prompt, response), kept as given (even blank ones)."""
    rows = [
        {"prompt_id": prompt_id_for(p), "prompt": p, "response_id": response_id_for(p, r), "response": r} for p, r in pairs
    ]
    # object dtype: pandas 3 would store arrow strings, which cannot hold the lone surrogates some tests need
    return PreferenceData(name=name, responses=pd.DataFrame(rows, dtype=object), comparisons=pd.DataFrame(columns=COMPARISON_COLUMNS))


def short_hh_conversations(n_prompts: int, max_chars: int, seed: int) -> PreferenceData:
    """A seeded sample of `n_prompts` short real helpful-base conversations (two responses each; prompt and
    both responses at most `max_chars` characters), from ../shared/data (skips with the reason when absent)."""
    import dataclasses

    import numpy as np

    from tests.conftest import shared_file
    from typicality.data import load

    data = load("hh-rlhf", data_files=[str(shared_file("hh-rlhf", "helpful-base", "test.jsonl.gz"))], subset="helpful-base")
    responses = data.responses
    size = responses["prompt"].str.len().groupby(responses["prompt_id"]).first() + responses["response"].str.len().groupby(responses["prompt_id"]).sum()
    short = np.sort(size[size <= max_chars].index.to_numpy())
    keep = set(np.random.default_rng(seed).choice(short, size=n_prompts, replace=False))
    return dataclasses.replace(
        data,
        responses=responses[responses["prompt_id"].isin(keep)].reset_index(drop=True),
        comparisons=data.comparisons[data.comparisons["prompt_id"].isin(keep)].reset_index(drop=True),
    )
