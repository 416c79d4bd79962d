"""The persistent score cache: sqlite in WAL mode, one transaction per batch.

Rows are keyed by (model fingerprint, sha256 of the exact prompt and response text), so a
changed model never returns a stale score and an unchanged one never recomputes. Each batch
is committed on its own: a run killed at any point (even kill -9) loses at most the batch in
flight, and sqlite's journal keeps the file consistent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from typicality.errors import TypicalityError

CACHE_FILE = "scores.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    fingerprint TEXT NOT NULL,
    text_key TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    sum_logprob REAL NOT NULL,
    truncated INTEGER NOT NULL,
    prompt_truncated INTEGER NOT NULL,
    boundary_merged INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, text_key)
) WITHOUT ROWID
"""

SCHEMA_COLUMNS = ("fingerprint", "text_key", "n_tokens", "sum_logprob", "truncated", "prompt_truncated", "boundary_merged")


@dataclass(frozen=True)
class CachedScore:
    n_tokens: int
    sum_logprob: float
    truncated: bool
    prompt_truncated: bool
    boundary_merged: bool


class ScoreCache:
    """Scores by (fingerprint, text key), safe to share between processes."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / CACHE_FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, timeout=60)
            self._connection.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process in WAL mode (only a power cut can drop the last commit).
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(SCHEMA)
            self._connection.commit()
        except sqlite3.DatabaseError as error:
            raise TypicalityError(
                f"The score cache {self.path} cannot be opened ({error}). Delete it to start afresh, "
                "or pass another --cache-dir."
            ) from error

    def get_many(self, fingerprint: str, keys: Iterable[str]) -> dict[str, CachedScore]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, CachedScore] = {}
        chunk = 500  # stay under sqlite's limit on bound parameters
        for start in range(0, len(keys), chunk):
            part = keys[start : start + chunk]
            rows = self._connection.execute(
                "SELECT text_key, n_tokens, sum_logprob, truncated, prompt_truncated, boundary_merged FROM scores "
                f"WHERE fingerprint = ? AND text_key IN ({','.join('?' * len(part))})",
                [fingerprint, *part],
            )
            for key, n_tokens, total, truncated, prompt_truncated, merged in rows:
                found[key] = CachedScore(int(n_tokens), float(total), bool(truncated), bool(prompt_truncated), bool(merged))
        return found

    def put_many(self, fingerprint: str, scores: dict[str, CachedScore]) -> None:
        """Store one batch in one transaction."""
        with self._connection:
            self._connection.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (fingerprint, key, s.n_tokens, s.sum_logprob, int(s.truncated), int(s.prompt_truncated), int(s.boundary_merged))
                    for key, s in scores.items()
                ],
            )

    def count(self, fingerprint: str | None = None) -> int:
        if fingerprint is None:
            return self._connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
        return self._connection.execute("SELECT COUNT(*) FROM scores WHERE fingerprint = ?", (fingerprint,)).fetchone()[0]

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> "ScoreCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MemorySink:
    """Somewhere `score_into` can commit scores without touching a cache file (the check, tests)."""

    def __init__(self):
        self.rows: dict[str, CachedScore] = {}
        self.commits = 0

    def put_many(self, fingerprint: str, scores: dict[str, CachedScore]) -> None:
        self.rows.update(scores)
        self.commits += 1
