"""The persistent score cache: sqlite in WAL mode, one transaction per batch.

Rows are keyed by (model fingerprint, sha256 of the exact prompt and response text), so a
changed model never returns a stale score and an unchanged one never recomputes. Each batch
is committed on its own: a run killed at any point (even kill -9) loses at most the batch in
flight, and sqlite's journal keeps the file consistent.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from typicality.errors import TypicalityError
from typicality.safe_text import say

CACHE_FILE = "scores.sqlite"
# sqlite's own wait for a lock, per statement; a batch that still finds it held is kept in memory (ScoreCache).
BUSY_TIMEOUT_S = 5.0
# How long a lock may stay held, without a break, before the run stops with the kept scores saved.
LOCK_WAIT_S = 60.0
RETRY_PAUSE_S = 0.5

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
    """Scores by (fingerprint, text key), safe to share between processes.

    Another process may hold the cache's write lock (a long merge, a stuck run, `sqlite3` open
    in a shell). Then a batch is kept in memory, served by `get_many` like a stored row, and
    written with the next batch once the lock frees; after `lock_wait_s` seconds of a lock held
    without a break (or at `close`), the kept rows go to a file of their own beside the cache
    and one error names who holds the lock, that file, and the command that merges it: nothing
    computed is lost. A damaged file found mid-run (a bad page) is named with its fix too.
    """

    def __init__(self, folder: str | Path, *, lock_wait_s: float | None = None):
        self.path = Path(folder) / CACHE_FILE
        self.lock_wait_s = LOCK_WAIT_S if lock_wait_s is None else lock_wait_s
        self._pending: dict[tuple[str, str], CachedScore] = {}  # (fingerprint, key): computed, not yet written (the lock was held)
        self._locked_since: float | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            self._connection.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process in WAL mode (only a power cut can drop the last commit).
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute(SCHEMA)
            self._connection.commit()
        except sqlite3.DatabaseError as error:
            if _is_lock(error):
                raise TypicalityError(self._lock_message(error, saved=None)) from None
            raise TypicalityError(
                f"The score cache {self.path} cannot be opened ({error}). Delete it to start afresh, "
                "or pass another --cache-dir."
            ) from error

    def get_many(self, fingerprint: str, keys: Iterable[str]) -> dict[str, CachedScore]:
        keys = list(dict.fromkeys(keys))
        found = {key: self._pending[fingerprint, key] for key in keys if (fingerprint, key) in self._pending}
        keys = [key for key in keys if key not in found]
        chunk = 500  # stay under sqlite's limit on bound parameters
        for start in range(0, len(keys), chunk):
            part = keys[start : start + chunk]
            rows = self._read(
                "SELECT text_key, n_tokens, sum_logprob, truncated, prompt_truncated, boundary_merged FROM scores "
                f"WHERE fingerprint = ? AND text_key IN ({','.join('?' * len(part))})",
                [fingerprint, *part],
            )
            for key, n_tokens, total, truncated, prompt_truncated, merged in rows:
                found[key] = CachedScore(int(n_tokens), float(total), bool(truncated), bool(prompt_truncated), bool(merged))
        return found

    def put_many(self, fingerprint: str, scores: dict[str, CachedScore]) -> None:
        """Store one batch in one transaction (with any batch kept while the lock was held)."""
        self._pending.update({(fingerprint, key): value for key, value in scores.items()})
        self._flush(final=False)

    def count(self, fingerprint: str | None = None) -> int:
        if fingerprint is None:
            return self._read("SELECT COUNT(*) FROM scores", ())[0][0]
        return self._read("SELECT COUNT(*) FROM scores WHERE fingerprint = ?", (fingerprint,))[0][0]

    @property
    def pending(self) -> int:
        """Scores computed but not yet written (the write lock was held by another process)."""
        return len(self._pending)

    def close(self) -> None:
        """Write what is kept (waiting up to `lock_wait_s` for a held lock), then close."""
        try:
            if self._pending:
                self._flush(final=True)
        finally:
            self._connection.close()

    def __enter__(self) -> "ScoreCache":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
            return
        # Already failing: keep what was computed (in a file of its own if the lock is still held)
        # without hiding the error that is on its way.
        try:
            if self._pending and not self._write_pending():
                saved = self._save_pending()
                say(f"typicality: {len(saved[1])} computed scores could not be written to the locked cache {self.path}; "
                    f"they are kept in {saved[0]} (`typicality merge-cache {saved[0]} --into {self.path.parent}` adds them).", stderr=True)
        except TypicalityError as error:
            say(f"typicality: {error}", stderr=True)
        finally:
            self._connection.close()

    # -- the lock and the damaged file -----------------------------------------------------------

    def _read(self, sql: str, parameters) -> list[tuple]:
        """A query's rows; a lock held against readers too is waited for (bounded), a damaged file named."""
        started = time.monotonic()
        while True:
            try:
                return self._connection.execute(sql, parameters).fetchall()
            except sqlite3.DatabaseError as error:
                if not _is_lock(error):
                    self._damaged(error)
                if time.monotonic() - started >= self.lock_wait_s:
                    raise TypicalityError(self._lock_message(error, saved=self._save_pending() if self._pending else None)) from None
                time.sleep(RETRY_PAUSE_S)

    def _flush(self, *, final: bool) -> None:
        """Write the kept rows; while the lock is held keep them, up to `lock_wait_s` of a lock held without a break."""
        while not self._write_pending():
            waited = time.monotonic() - self._locked_since
            if waited >= self.lock_wait_s:
                raise TypicalityError(self._lock_message(self._last_lock_error, saved=self._save_pending()))
            if not final:
                return  # scoring goes on; the next batch (or close) tries again
            time.sleep(min(RETRY_PAUSE_S, self.lock_wait_s - waited))

    def _write_pending(self) -> bool:
        """True once every kept row is written; False while another process holds the write lock."""
        if not self._pending:
            return True
        rows = [(fingerprint, key, s.n_tokens, s.sum_logprob, int(s.truncated), int(s.prompt_truncated), int(s.boundary_merged))
                for (fingerprint, key), s in self._pending.items()]
        try:
            with self._connection:
                self._connection.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.DatabaseError as error:
            if not _is_lock(error):
                self._damaged(error)
            self._last_lock_error = error
            if self._locked_since is None:
                self._locked_since = time.monotonic()
            return False
        self._pending.clear()
        self._locked_since = None
        return True

    def _damaged(self, error: sqlite3.DatabaseError):
        saved = f" The {self.pending} scores computed in this run are kept in {self._save_pending()[0]}." if self._pending else ""
        if isinstance(error, sqlite3.OperationalError) and any(word in str(error) for word in ("readonly", "read-only", "disk I/O", "full")):
            raise TypicalityError(
                f"The score cache {self.path} cannot be written ({error}).{saved} Make its folder writable (or free space), or pass another --cache-dir."
            ) from None
        raise TypicalityError(
            f"The score cache {self.path} is damaged ({error}).{saved} Delete {self.path} (its scores are computed again), "
            "or pass another --cache-dir."
        ) from None

    def _save_pending(self) -> tuple[Path, list]:
        """The kept rows in a cache file of their own beside the cache (for `typicality merge-cache`); (that file, the rows)."""
        side = self.path.with_name(f"pending-{os.getpid()}-{int(time.time())}.sqlite")
        rows = [(fingerprint, key, s.n_tokens, s.sum_logprob, int(s.truncated), int(s.prompt_truncated), int(s.boundary_merged))
                for (fingerprint, key), s in self._pending.items()]
        try:
            connection = sqlite3.connect(side)
            with connection:
                connection.execute(SCHEMA)
                connection.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            connection.close()
        except (OSError, sqlite3.DatabaseError) as error:
            raise TypicalityError(f"{len(rows)} computed scores could be written neither to {self.path} nor to {side} ({error}).") from None
        self._pending.clear()
        return side, rows

    def _lock_message(self, error, saved: tuple[Path, list] | None) -> str:
        holders = lock_holders(self.path)
        who = "; ".join(holders) if holders else "no process could be named (one on another machine sharing the disk, or of another user)"
        kept = ""
        if saved:
            kept = (f" The {len(saved[1])} scores computed meanwhile are kept in {saved[0]}: once the lock is free, "
                    f"`typicality merge-cache {saved[0]} --into {self.path.parent}` adds them, and a re-run takes every score from the cache.")
        return (
            f"The score cache {self.path} is locked by another process ({error}; waited up to {max(self.lock_wait_s, BUSY_TIMEOUT_S):g} s), "
            f"held by: {who}.{kept} Wait for that process to finish or stop it, or pass another --cache-dir."
        )


def _is_lock(error: sqlite3.DatabaseError) -> bool:
    return isinstance(error, sqlite3.OperationalError) and any(word in str(error) for word in ("locked", "busy"))


def lock_holders(path: Path) -> list[str]:
    """The other processes holding a lock on the cache (from /proc/locks) or, failing that, having it open: "pid N (command)".

    Linux only (elsewhere: none named). sqlite locks the database file, and in WAL mode its -shm file.
    """
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    inodes = set()
    for file in files:
        try:
            inodes.add(file.stat().st_ino)
        except OSError:
            pass
    pids: list[int] = []
    try:
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            # "1: POSIX  ADVISORY  WRITE 12345 08:01:1234567 0 EOF" (a "->" marks a waiter: field 2 on).
            fields = fields[1:] if fields[1] != "->" else fields[2:]
            if len(fields) >= 5 and fields[3].lstrip("-").isdigit() and int(fields[4].split(":")[-1]) in inodes:
                pids.append(int(fields[3]))
    except (OSError, ValueError, IndexError):
        pass
    if not [pid for pid in pids if pid > 0 and pid != os.getpid()]:
        pids = _processes_with_open(set(files))
    return [f"pid {pid} ({_command(pid)})" for pid in dict.fromkeys(pids) if pid > 0 and pid != os.getpid()]


def _processes_with_open(files: set[Path]) -> list[int]:
    names = {str(file.resolve()) for file in files}
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if any(os.readlink(fd) in names for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _command(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        command = " ".join(" ".join(word.decode(errors="replace").split()) for word in words if word)
    except OSError:
        return "command unknown"
    return command if len(command) <= 120 else command[:117] + "..."


class MemorySink:
    """Somewhere `score_into` can commit scores without touching a cache file (the check, tests)."""

    def __init__(self):
        self.rows: dict[str, CachedScore] = {}
        self.commits = 0

    def put_many(self, fingerprint: str, scores: dict[str, CachedScore]) -> None:
        self.rows.update(scores)
        self.commits += 1
