"""`merge_caches`: the shard caches of a job array become one cache holding the union of their rows."""

from __future__ import annotations

import random
import sqlite3

import pytest

from typicality.errors import TypicalityError
from typicality.scoring.cache import CACHE_FILE, CachedScore, ScoreCache
from typicality.scoring.cache_merge import merge_caches


def random_rows(rng: random.Random, keys: list[str]) -> dict[str, CachedScore]:
    return {key: CachedScore(rng.randint(1, 400), -rng.random() * 900, rng.random() < 0.1, rng.random() < 0.1, rng.random() < 0.05) for key in keys}


def all_rows(folder) -> dict[tuple[str, str], tuple]:
    with sqlite3.connect(folder / CACHE_FILE) as connection:
        return {(r[0], r[1]): r[2:] for r in connection.execute("SELECT * FROM scores")}


def test_merge_holds_the_union_and_keeps_existing_rows(tmp_path):
    rng = random.Random(7)
    keys = [f"{i:064x}" for i in range(300)]
    shards = [keys[i::3] for i in range(3)]
    expected: dict[tuple[str, str], tuple] = {}
    for index, shard_keys in enumerate(shards):
        with ScoreCache(tmp_path / f"shard-{index}") as cache:
            for fingerprint in ("model-a|x", "model-b|y"):
                rows = random_rows(rng, shard_keys)
                cache.put_many(fingerprint, rows)
                expected.update(
                    {(fingerprint, k): (s.n_tokens, s.sum_logprob, int(s.truncated), int(s.prompt_truncated), int(s.boundary_merged)) for k, s in rows.items()}
                )
    # The target already holds one row of shard 0, identical, and one of shard 1, different.
    with ScoreCache(tmp_path / "merged") as cache:
        same = expected[("model-a|x", shards[0][0])]
        cache.put_many("model-a|x", {shards[0][0]: CachedScore(same[0], same[1], *map(bool, same[2:]))})
        cache.put_many("model-a|x", {shards[1][0]: CachedScore(1, -1.0, False, False, False)})

    report = merge_caches(tmp_path / "merged", [tmp_path / f"shard-{i}" for i in range(3)])

    merged = all_rows(tmp_path / "merged")
    assert report.total_rows == len(merged) == len(expected) == 600
    conflicting = ("model-a|x", shards[1][0])
    assert merged[conflicting] == (1, -1.0, 0, 0, 0)  # kept, and reported
    assert {k: v for k, v in merged.items() if k != conflicting} == {k: v for k, v in expected.items() if k != conflicting}
    names = [str(tmp_path / f"shard-{i}" / CACHE_FILE) for i in range(3)]
    assert [report.added[n] for n in names] == [199, 199, 200]
    assert [report.already_present[n] for n in names] == [1, 1, 0]
    assert [report.conflicts[n] for n in names] == [0, 1, 0]
    # Merging again adds nothing.
    again = merge_caches(tmp_path / "merged", [tmp_path / f"shard-{i}" for i in range(3)])
    assert sum(again.added.values()) == 0 and again.total_rows == 600


def test_merge_names_a_missing_source(tmp_path):
    with pytest.raises(TypicalityError, match="no score cache at .*nowhere"):
        merge_caches(tmp_path / "merged", [tmp_path / "nowhere"])
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / CACHE_FILE).write_text("not a database")
    with pytest.raises(TypicalityError, match="not a readable typicality score cache"):
        merge_caches(tmp_path / "merged", [tmp_path / "junk"])
