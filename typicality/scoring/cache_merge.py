"""Merge score caches written by the shards of a job array (`typicality merge-cache`).

Each shard of `--shard i/n` may write its own cache folder (node-local disk; sqlite must not
be shared over NFS). Merging copies every (fingerprint, text) row into one cache; rows
already there are kept. Scores are deterministic per fingerprint, so two shards holding the
same row should agree: rows that differ by more than `tolerance` are counted and reported,
never silently mixed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from typicality.errors import TypicalityError
from typicality.scoring.cache import CACHE_FILE, SCHEMA_COLUMNS, ScoreCache

COLUMNS = ", ".join(SCHEMA_COLUMNS)


@dataclass
class MergeReport:
    """Rows added to the target from each source, and rows that disagreed with what the target held."""

    target: Path
    added: dict[str, int] = field(default_factory=dict)
    already_present: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)
    total_rows: int = 0

    def to_dict(self) -> dict:
        return {
            "target": str(self.target),
            "added": dict(self.added),
            "already_present": dict(self.already_present),
            "conflicts": dict(self.conflicts),
            "total_rows": self.total_rows,
        }


def cache_file(path: str | Path) -> Path:
    """A cache folder (holding scores.sqlite) or the sqlite file itself -> the sqlite file."""
    path = Path(path).expanduser()
    return path / CACHE_FILE if path.is_dir() else path


def merge_caches(target: str | Path, sources: list[str | Path], tolerance: float = 1e-6) -> MergeReport:
    """Copy the score rows of every source cache into the target cache folder (created if absent)."""
    target_file = cache_file(target) if Path(target).suffix == ".sqlite" else Path(target).expanduser() / CACHE_FILE
    files = []
    for source in sources:
        source_file = cache_file(source)
        if not source_file.is_file():
            raise TypicalityError(f"merge-cache: no score cache at {source} (expected a folder holding {CACHE_FILE}, or the file itself)")
        if source_file.resolve() == target_file.resolve():
            raise TypicalityError(f"merge-cache: {source} is the target itself; name the shard caches and a different --into")
        files.append(source_file)
    report = MergeReport(target=target_file)
    ScoreCache(target_file.parent).close()  # creates the target with the current schema
    connection = sqlite3.connect(target_file, timeout=60)
    try:
        for source_file in files:
            name = str(source_file)
            try:
                connection.execute("ATTACH DATABASE ? AS source", (str(source_file),))
                conflicts, present = connection.execute(
                    "SELECT COALESCE(SUM(abs(s.sum_logprob - t.sum_logprob) > ? OR s.n_tokens != t.n_tokens), 0), COUNT(*) "
                    "FROM source.scores s JOIN main.scores t USING (fingerprint, text_key)",
                    (tolerance,),
                ).fetchone()
                with connection:  # one transaction per source: a killed merge leaves whole sources or none
                    added = connection.execute(
                        f"INSERT OR IGNORE INTO main.scores ({COLUMNS}) SELECT {COLUMNS} FROM source.scores"
                    ).rowcount
            except sqlite3.DatabaseError as error:
                raise TypicalityError(f"merge-cache: {source_file} is not a readable typicality score cache ({error})") from None
            finally:
                try:
                    connection.execute("DETACH DATABASE source")
                except sqlite3.DatabaseError:
                    pass
            report.added[name] = int(added)
            report.already_present[name] = int(present)
            report.conflicts[name] = int(conflicts)
        report.total_rows = connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    finally:
        connection.close()
    return report
