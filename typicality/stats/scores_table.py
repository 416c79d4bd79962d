"""The scores table the stats stage reads: one row per scored response, checked before use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from typicality.errors import TypicalityError

SCORE_COLUMNS = ["response_id", "n_tokens", "sum_logprob", "mean_logprob"]
MODEL_COLUMN = "model"  # the scorer's model fingerprint, when present
CARD_KEY = b"typicality.card"  # where typicality.scoring.result keeps the score card in the parquet metadata


def read_scores(path: str | Path) -> pd.DataFrame:
    """Read `scores.parquet` (or any parquet with the score columns) and check it."""
    path = Path(path)
    if not path.exists():
        raise TypicalityError(f"Scores file {path} does not exist; run `typicality score ... --out {path}` first or pass --scores FILE.")
    try:
        scores = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a file that is not parquet
        raise TypicalityError(f"Cannot read scores file {path} as parquet ({error}).") from error
    return check_scores(scores, source=str(path))


def check_scores(scores: pd.DataFrame, source: str = "the scores table") -> pd.DataFrame:
    """Validate the columns, one model, one row per response; return a clean copy.

    Rows the scorer skipped (a `skipped` reason), or whose score is not a finite number or whose
    token count is below 1, are kept but flagged: `usable` False and `unusable_reason` set, so
    the pair design counts them by reason.
    """
    missing = [column for column in SCORE_COLUMNS if column not in scores.columns]
    if missing:
        raise TypicalityError(
            f"{source} lacks the column(s) {', '.join(missing)}; a scores table needs {', '.join(SCORE_COLUMNS)} "
            "(as written by `typicality score`)."
        )
    scores = scores.copy()
    scores.attrs = {}  # a card kept in attrs would be deep-copied by every pandas step below
    if MODEL_COLUMN in scores.columns:
        models = scores[MODEL_COLUMN].dropna().astype(str).unique()
        if len(models) > 1:
            raise TypicalityError(
                f"{source} mixes scores from {len(models)} models ({', '.join(sorted(models)[:3])}...); "
                "typicality from different models is not comparable: keep the rows of one model."
            )
    for column in ("n_tokens", "sum_logprob", "mean_logprob"):
        scores[column] = pd.to_numeric(scores[column], errors="coerce").astype(float)
    scores["response_id"] = scores["response_id"].astype(str).to_numpy(dtype=object)
    duplicated = pd.Index(scores["response_id"]).duplicated(keep=False)
    if duplicated.any():
        values = scores.loc[duplicated, ["response_id", "n_tokens", "sum_logprob", "mean_logprob"]]
        if len(values.drop_duplicates()) != values["response_id"].nunique():
            raise TypicalityError(
                f"{source} holds {int(values['response_id'].nunique())} response ids more than once with different scores; "
                "keep one score per response (one model, one scoring run)."
            )
        scores = scores.drop_duplicates("response_id")
    finite = np.isfinite(scores[["n_tokens", "sum_logprob", "mean_logprob"]].to_numpy()).all(axis=1)
    skipped = scores["skipped"].notna().to_numpy() if "skipped" in scores.columns else np.zeros(len(scores), dtype=bool)
    scores["usable"] = finite & (scores["n_tokens"].to_numpy() >= 1) & ~skipped
    # Why a row is unusable, for the accounting: the scorer's own reason when it gave one.
    reason = np.where(finite & (scores["n_tokens"].to_numpy() >= 1), None, "score not a finite number or no tokens")
    if "skipped" in scores.columns:
        reason = np.where(skipped, "skipped by the scorer: " + scores["skipped"].astype(str), reason)
    scores["unusable_reason"] = np.where(scores["usable"], None, reason)
    if "truncated" not in scores.columns:
        scores["truncated"] = False
    return scores.reset_index(drop=True)


def read_score_card(path: str | Path) -> dict | None:
    """The scorer's card (model, settings, counts) stored with a scores parquet, or None.

    `typicality score` keeps it in the parquet's schema metadata under `typicality.card` and in
    `<name>.card.json` beside it (typicality.scoring.result); read here without importing the
    scoring stage, which would pull in torch.
    """
    path = Path(path)
    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception:  # unreadable files are reported by read_scores
        metadata = {}
    if CARD_KEY in metadata:
        return json.loads(metadata[CARD_KEY])
    beside = path.with_name(f"{path.stem}.card.json")
    if beside.exists():
        return json.loads(beside.read_text(encoding="utf-8"))
    return None


def model_fingerprint(scores: pd.DataFrame) -> str | None:
    """The one model fingerprint of a checked scores table, or None when it carries none."""
    if MODEL_COLUMN not in scores.columns:
        return None
    models = scores[MODEL_COLUMN].dropna().astype(str).unique()
    return str(models[0]) if len(models) else None
