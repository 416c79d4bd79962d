"""The score cache when another process holds its lock, or a page of it is damaged: one message, nothing computed lost.

A second process (a real one: sqlite's locks are per process) takes the write lock and keeps
it until told to let go. Scores computed meanwhile are kept in memory and served, written
once the lock frees, or, if it is held past the bounded wait, saved to a file of their own
that `typicality merge-cache` adds back; the message names the process that holds the lock.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from tests.scoring.test_cli_score import write_hh_file
from typicality.cli import main
from typicality.errors import TypicalityError
from typicality.scoring import cache as cache_module
from typicality.scoring.cache import CACHE_FILE, CachedScore, ScoreCache
from typicality.scoring.cache_merge import merge_caches

HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")  # the write lock, held until stdin closes
print("holding", flush=True)
sys.stdin.read()
"""


class LockHolder:
    """Another process holding the cache's write lock until `release()`."""

    def __init__(self, path):
        self.process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "holding"
        self.pid = self.process.pid

    def release(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


@pytest.fixture
def quick_locks(monkeypatch):
    """sqlite's own wait per statement cut from 5 s to 0.1 s, so a held lock shows at once."""
    monkeypatch.setattr(cache_module, "BUSY_TIMEOUT_S", 0.1)


def rows(n: int, offset: int = 0) -> dict[str, CachedScore]:
    return {f"text-{i}": CachedScore(5 + i, -2.5 * (i + 1), False, False, False) for i in range(offset, offset + n)}


def stored(path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    finally:
        connection.close()


def test_a_batch_computed_under_a_held_lock_is_kept_served_and_written_when_it_frees(tmp_path, quick_locks):
    ScoreCache(tmp_path).close()
    holder = LockHolder(tmp_path / CACHE_FILE)
    try:
        cache = ScoreCache(tmp_path, lock_wait_s=60)
        cache.put_many("model", rows(3))  # the lock is held: kept, no error, no wait beyond sqlite's own
        assert cache.pending == 3 and stored(tmp_path / CACHE_FILE) == 0
        assert cache.get_many("model", ["text-0", "text-2", "text-9"]) == {key: value for key, value in rows(3).items() if key != "text-1"}
    finally:
        holder.release()
    cache.put_many("model", rows(2, offset=3))  # the lock is free: both batches written
    assert cache.pending == 0 and stored(tmp_path / CACHE_FILE) == 5
    cache.close()
    with ScoreCache(tmp_path) as reopened:
        assert reopened.get_many("model", list(rows(5))) == rows(5)


def test_a_lock_held_past_the_wait_names_its_holder_and_loses_no_score(tmp_path, quick_locks):
    ScoreCache(tmp_path).close()
    holder = LockHolder(tmp_path / CACHE_FILE)
    try:
        cache = ScoreCache(tmp_path, lock_wait_s=0.5)
        cache.put_many("model", rows(4))
        with pytest.raises(TypicalityError) as raised:
            cache.close()  # waits 0.5 s for the lock, then saves the kept rows beside the cache
    finally:
        holder.release()
    message = str(raised.value)
    assert f"pid {holder.pid} (" in message and str(tmp_path / CACHE_FILE) in message and "merge-cache" in message
    side = next(tmp_path.glob("pending-*.sqlite"))
    assert str(side) in message and stored(side) == 4
    merge_caches(tmp_path, [side])  # the fix the message gives, once the holder is gone
    with ScoreCache(tmp_path) as cache:
        assert cache.get_many("model", list(rows(4))) == rows(4)


def test_score_command_under_a_held_lock_exits_2_naming_the_holder_then_resumes_from_the_saved_scores(
    tiny_model_dir, tmp_path, capsys, quick_locks, monkeypatch
):
    monkeypatch.setattr(cache_module, "LOCK_WAIT_S", 0.5)
    data_file = write_hh_file(tmp_path / "test.jsonl")
    cache_dir = tmp_path / "cache"
    argv = ["score", "hh-rlhf", "--data-files", str(data_file), "--model", str(tiny_model_dir), "--cache-dir", str(cache_dir),
            "--out", str(tmp_path / "scores.parquet"), "--no-progress"]
    ScoreCache(cache_dir).close()
    holder = LockHolder(cache_dir / CACHE_FILE)
    try:
        assert main(argv) == 2
    finally:
        holder.release()
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("typicality: error:") == 1 and f"pid {holder.pid} (" in error
    side = next(cache_dir.glob("pending-*.sqlite"))
    assert stored(side) == 4  # the four responses scored while the lock was held
    assert main(["merge-cache", str(side), "--into", str(cache_dir)]) == 0
    assert main(argv) == 0
    assert "4 from cache, 0 computed" in capsys.readouterr().out


def damage_the_scores_table(path) -> None:
    """Overwrite the root page of the scores table (every lookup reads it) with garbage; the header and schema stay intact."""
    connection = sqlite3.connect(path)
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'scores'").fetchone()[0]
    connection.close()
    assert root > 1
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xa5" * page_size)


def test_a_damaged_page_found_mid_run_is_named_with_the_fix_and_keeps_the_batch(tmp_path):
    with ScoreCache(tmp_path) as cache:
        cache.put_many("model", rows(3000))  # several pages
    damage_the_scores_table(tmp_path / CACHE_FILE)
    cache = ScoreCache(tmp_path)  # opens: the header and the schema are fine
    with pytest.raises(TypicalityError, match=r"is damaged \(.*malformed.*\)\. Delete .*scores\.sqlite"):
        cache.get_many("model", ["text-1"])
    with pytest.raises(TypicalityError, match=r"The 2 scores computed in this run are kept in .*pending-.*\.sqlite") as raised:
        cache.put_many("model", rows(2, offset=5000))
    side = raised.value.args[0].split(" are kept in ")[1].split(".sqlite")[0] + ".sqlite"
    assert stored(side) == 2
    cache._connection.close()


def test_score_command_on_a_damaged_cache_exits_2_with_the_file_and_the_fix(tiny_model_dir, tmp_path, capsys):
    data_file = write_hh_file(tmp_path / "test.jsonl")
    cache_dir = tmp_path / "cache"
    with ScoreCache(cache_dir) as cache:
        cache.put_many("another-model", rows(3000))
    damage_the_scores_table(cache_dir / CACHE_FILE)
    argv = ["score", "hh-rlhf", "--data-files", str(data_file), "--model", str(tiny_model_dir), "--cache-dir", str(cache_dir),
            "--out", str(tmp_path / "scores.parquet"), "--no-progress"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and f"The score cache {cache_dir / CACHE_FILE} is damaged" in error and "Delete" in error
