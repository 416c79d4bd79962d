"""`ScoreResult`: the per-response score table and the card that says how it was made."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from typicality.errors import TypicalityError

SCORE_COLUMNS = [
    "prompt_id",
    "response_id",
    "n_tokens",
    "sum_logprob",
    "mean_logprob",
    "truncated",
    "prompt_truncated",
    "boundary_merged",
    "skipped",
    "model",
]
CARD_KEY = b"typicality.card"


@dataclass
class ScoreResult:
    """`table`: one row per distinct response; `card`: model, settings and counts (JSON-able).

    Skipped responses (empty, whitespace-only, unencodable) stay in the table with NaN scores,
    n_tokens 0 and the reason in `skipped` (None for scored rows).
    """

    table: pd.DataFrame
    card: dict

    @property
    def fingerprint(self) -> str:
        return self.card["fingerprint"]

    @property
    def scored(self) -> pd.DataFrame:
        """The rows that have a score."""
        return self.table[self.table["skipped"].isna()]

    def save(self, path: str | Path) -> Path:
        """Write the parquet (card in its metadata too) and `<name>.card.json` beside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        card_text = json.dumps(self.card, indent=2, sort_keys=True)
        arrow = pa.Table.from_pandas(self.table, preserve_index=False)
        arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), CARD_KEY: card_text.encode()})
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        pq.write_table(arrow, staging)
        os.replace(staging, path)  # a run killed while saving leaves the previous file intact
        card_path(path).write_text(card_text + "\n", encoding="utf-8")
        return path


def card_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.card.json")


def load_scores(path: str | Path) -> ScoreResult:
    """Read a scores parquet written by `ScoreResult.save`."""
    path = Path(path)
    if not path.exists():
        raise TypicalityError(f"No scores file at {path}; run `typicality score ... --out {path}` first.")
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise TypicalityError(f"{path} is not a readable parquet file ({error}).") from error
    missing = [column for column in SCORE_COLUMNS if column not in arrow.column_names]
    if missing:
        raise TypicalityError(f"{path} is not a typicality scores file: it lacks {', '.join(missing)}.")
    metadata = arrow.schema.metadata or {}
    if CARD_KEY in metadata:
        card = json.loads(metadata[CARD_KEY])
    elif card_path(path).exists():
        card = json.loads(card_path(path).read_text(encoding="utf-8"))
    else:
        card = {}
    return ScoreResult(arrow.to_pandas(), card)
