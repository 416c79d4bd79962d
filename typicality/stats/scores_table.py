"""The scores the stats stage reads: checked once at the boundary, then carried as a `CheckedScores`.

The file format (columns, dtypes, the score card) belongs to `typicality.audit_folder`; this
module only decides which rows are usable for a fit and says why the others are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from typicality.domain import REQUIRED_SCORE_COLUMNS, ScoreResult
from typicality.errors import TypicalityError, require_type
from typicality.results import ScoreCard

MODEL_COLUMN = "model"  # the scorer's model fingerprint, when present


@dataclass(frozen=True)
class CheckedScores:
    """A scores table that passed `check_scores`: one model, one row per response, `usable` and `unusable_reason` set.

    `card` is the scorer's card (None for a hand-made table); `fingerprint` the one model's.
    """

    table: pd.DataFrame
    card: ScoreCard | None = None
    fingerprint: str | None = None

    @property
    def usable(self) -> pd.DataFrame:
        return self.table[self.table["usable"].to_numpy()]


def require_scores(function: str, scores) -> None:
    """Refuse anything but a scores object at a public entry point, saying how to get one."""
    require_type(function, "scores", scores, (ScoreResult, CheckedScores, pd.DataFrame), "a ScoreResult, a CheckedScores or a scores DataFrame",
                 "score the data with typicality.score(data), or read a scores file with typicality.load_scores(path)")


def check_scores(scores: ScoreResult | CheckedScores | pd.DataFrame, source: str = "the scores table") -> CheckedScores:
    """Validate the columns, one model, one row per response; flag rows that cannot enter a fit.

    Rows the scorer skipped (a `skipped` reason), or whose score is not a finite number or whose
    token count is below 1, are kept but flagged: `usable` False and `unusable_reason` set, so
    the pair design counts them by reason. A `CheckedScores` passes through unchanged.
    """
    if isinstance(scores, CheckedScores):
        return scores
    card = scores.card if isinstance(scores, ScoreResult) else None
    table = scores.table if isinstance(scores, ScoreResult) else scores
    missing = [column for column in REQUIRED_SCORE_COLUMNS if column not in table.columns]
    if missing:
        raise TypicalityError(
            f"{source} lacks the column(s) {', '.join(missing)}; a scores table needs {', '.join(REQUIRED_SCORE_COLUMNS)} "
            "(as written by `typicality score`)."
        )
    table = table.copy()
    table.attrs = {}
    fingerprint = _one_model(table, source)
    for column in ("n_tokens", "sum_logprob", "mean_logprob"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    table["response_id"] = table["response_id"].astype(str).to_numpy(dtype=object)
    table = _one_row_per_response(table, source)
    finite = np.isfinite(table[["n_tokens", "sum_logprob", "mean_logprob"]].to_numpy()).all(axis=1)
    has_tokens = finite & (table["n_tokens"].to_numpy() >= 1)
    skipped = table["skipped"].notna().to_numpy() if "skipped" in table.columns else np.zeros(len(table), dtype=bool)
    table["usable"] = has_tokens & ~skipped
    # Why a row is unusable, for the accounting: the scorer's own reason when it gave one.
    reason = np.where(has_tokens, None, "score not a finite number or no tokens")
    if "skipped" in table.columns:
        reason = np.where(skipped, "skipped by the scorer: " + table["skipped"].astype(str), reason)
    table["unusable_reason"] = np.where(table["usable"], None, reason)
    if "truncated" not in table.columns:
        table["truncated"] = False
    return CheckedScores(table.reset_index(drop=True), card, fingerprint or (card.fingerprint if card is not None else None))


def _one_model(table: pd.DataFrame, source: str) -> str | None:
    if MODEL_COLUMN not in table.columns:
        return None
    models = table[MODEL_COLUMN].dropna().astype(str).unique()
    if len(models) > 1:
        raise TypicalityError(
            f"{source} mixes scores from {len(models)} models ({', '.join(sorted(models)[:3])}...); "
            "typicality from different models is not comparable: keep the rows of one model."
        )
    return str(models[0]) if len(models) else None


def _one_row_per_response(table: pd.DataFrame, source: str) -> pd.DataFrame:
    duplicated = pd.Index(table["response_id"]).duplicated(keep=False)
    if not duplicated.any():
        return table
    values = table.loc[duplicated, ["response_id", "n_tokens", "sum_logprob", "mean_logprob"]]
    if len(values.drop_duplicates()) != values["response_id"].nunique():
        raise TypicalityError(
            f"{source} holds {int(values['response_id'].nunique())} response ids more than once with different scores; "
            "keep one score per response (one model, one scoring run)."
        )
    return table.drop_duplicates("response_id")
