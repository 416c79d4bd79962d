"""The folders the stats stage reads and writes: a data folder plus `scores.parquet` (an audit or a simulation)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from typicality.data.preference_data import PreferenceData
from typicality.data.storage import load_preference_data, save_preference_data
from typicality.errors import TypicalityError
from typicality.stats.scores_table import CARD_KEY, read_score_card, read_scores

SCORES_FILE = "scores.parquet"


def read_analysis_input(folder: str | Path | None = None, *, data: str | Path | None = None, scores: str | Path | None = None) -> tuple[PreferenceData, pd.DataFrame]:
    """(data, scores) from one folder holding both, or from a data folder and a scores file given apart.

    The scorer's card, when the scores file carries one, is in `scores.attrs["card"]`.
    """
    if folder is None and (data is None or scores is None):
        raise TypicalityError("Give a folder holding the data files and scores.parquet, or both --data DIR and --scores FILE.")
    data_folder = Path(data) if data is not None else Path(folder)
    scores_file = Path(scores) if scores is not None else Path(folder) / SCORES_FILE
    if not data_folder.is_dir():
        raise TypicalityError(f"{data_folder} is not a folder; give an audit or simulated folder, or --data DIR.")
    if not scores_file.exists():
        raise TypicalityError(
            f"{scores_file} does not exist: score the data first (`typicality score ... --out {scores_file}`) or pass --scores FILE."
        )
    scores_table = read_scores(scores_file)
    card = read_score_card(scores_file)
    if card:
        scores_table.attrs["card"] = card
    return load_preference_data(data_folder), scores_table


def write_simulation(data: PreferenceData, scores: pd.DataFrame, folder: str | Path) -> Path:
    """A simulated folder: the data folder files plus scores.parquet, readable by every stats command."""
    folder = Path(folder)
    save_preference_data(data, folder)
    table = pa.Table.from_pandas(scores, preserve_index=False)
    card = scores.attrs.get("card")
    if card:  # kept where typicality.scoring.result keeps a real score card
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), CARD_KEY: json.dumps(card).encode()})
    pq.write_table(table, folder / SCORES_FILE)
    return folder
