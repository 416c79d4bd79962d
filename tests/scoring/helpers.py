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
