"""The score cache (keyed by model identity and exact text), resuming after a crash, and saved results."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tests.scoring.helpers import data_from_texts
from tests.scoring.test_transformers_backend import PAIRS
from typicality.errors import TypicalityError
from typicality.scoring import ModelIdentity, ScoreCache, load_scores, save_scores, score
from typicality.scoring.cache import CachedScore
from typicality.scoring.fingerprint import files_digest


class Counting:
    """Wraps a backend's score_batch to count the responses it computes (score it with check=False:
    the pre-flight check would score its own texts through the same wrapper)."""

    def __init__(self, backend, fail_after_batches: int | None = None):
        self.backend = backend.configured()
        self.computed = 0
        self.batches = 0
        original = self.backend.score_batch

        def score_batch(batch):
            if fail_after_batches is not None and self.batches >= fail_after_batches:
                raise RuntimeError("simulated crash")
            self.batches += 1
            self.computed += len(batch)
            return original(batch)

        self.backend.score_batch = score_batch


def test_cache_round_trip_is_keyed_by_fingerprint_and_text(tmp_path):
    score_a = CachedScore(3, -4.5, False, True, False)
    with ScoreCache(tmp_path) as cache:
        cache.put_many("model-a", {"text-1": score_a})
        assert cache.get_many("model-a", ["text-1", "text-2"]) == {"text-1": score_a}
        assert cache.get_many("model-b", ["text-1"]) == {}
        assert cache._connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with ScoreCache(tmp_path) as reopened:
        assert reopened.get_many("model-a", ["text-1"]) == {"text-1": score_a}


def test_a_corrupt_cache_file_gives_a_clear_message(tmp_path):
    (tmp_path / "scores.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(TypicalityError, match="cannot be opened.*Delete it"):
        ScoreCache(tmp_path)


def test_unchanged_model_recomputes_nothing_and_a_changed_one_everything(tiny, tmp_path):
    data = data_from_texts(PAIRS)
    first = Counting(tiny)
    fresh = score(data, first.backend, cache_dir=tmp_path, progress=False, check=False)
    assert first.computed == len(PAIRS) and fresh.card.n_computed == len(PAIRS)

    again = Counting(tiny)
    cached = score(data, again.backend, cache_dir=tmp_path, progress=False, check=False)
    assert again.computed == 0 and cached.card.n_from_cache == len(PAIRS) and cached.card.n_computed == 0
    assert cached.table.equals(fresh.table)

    changed = Counting(tiny.configured(max_length=200))  # another window: another fingerprint
    rescored = score(data, changed.backend, cache_dir=tmp_path, progress=False, check=False)
    assert changed.computed == len(PAIRS) and rescored.fingerprint != fresh.fingerprint
    np.testing.assert_allclose(rescored.table["mean_logprob"], fresh.table["mean_logprob"], atol=1e-4)  # nothing was cut


def test_a_changed_text_is_recomputed_alone(tiny, tmp_path):
    score(data_from_texts(PAIRS), tiny, cache_dir=tmp_path, progress=False)
    edited = PAIRS[:-1] + [(PAIRS[-1][0], PAIRS[-1][1] + " ")]
    counting = Counting(tiny)
    result = score(data_from_texts(edited), counting.backend, cache_dir=tmp_path, progress=False, check=False)
    assert counting.computed == 1 and result.card.n_from_cache == len(PAIRS) - 1


def test_a_crash_keeps_finished_batches_and_the_rerun_completes(tiny, tmp_path):
    data = data_from_texts(PAIRS)
    crashing = Counting(tiny, fail_after_batches=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        score(data, crashing.backend, batch_tokens=1, cache_dir=tmp_path, progress=False, check=False)  # one response per batch
    with ScoreCache(tmp_path) as cache:
        assert cache.count(tiny.identity.fingerprint()) == 2
    resumed = Counting(tiny)
    result = score(data, resumed.backend, batch_tokens=1, cache_dir=tmp_path, progress=False, check=False)
    assert resumed.computed == len(PAIRS) - 2 and result.card.n_from_cache == 2
    reference = score(data, tiny, cache_dir=tmp_path / "fresh", progress=False)
    np.testing.assert_allclose(result.table["mean_logprob"], reference.table["mean_logprob"], atol=1e-4)


def test_save_and_load_round_trip(tiny, tmp_path):
    result = score(data_from_texts(PAIRS + [(PAIRS[0][0], "  ")]), tiny, cache_dir=tmp_path, progress=False)
    path = save_scores(result, tmp_path / "out" / "scores.parquet")
    assert (tmp_path / "out" / "scores.card.json").exists()
    loaded = load_scores(path)
    assert loaded.card == result.card
    assert loaded.table.drop(columns="skipped").equals(result.table.drop(columns="skipped"))
    assert loaded.table["skipped"].isna().tolist() == result.table["skipped"].isna().tolist()
    assert set(loaded.table["model"]) == {result.fingerprint}
    assert list(loaded.table.columns[:6]) == ["prompt_id", "response_id", "n_tokens", "sum_logprob", "mean_logprob", "truncated"]
    with pytest.raises(TypicalityError, match="No scores file"):
        load_scores(tmp_path / "missing.parquet")


def test_fingerprint_changes_with_every_identity_field():
    base = ModelIdentity("m", "sha256:abc", "transformers", "float32", True, False, 1024)
    variants = [
        ModelIdentity("m2", "sha256:abc", "transformers", "float32", True, False, 1024),
        ModelIdentity("m", "sha256:abd", "transformers", "float32", True, False, 1024),
        ModelIdentity("m", "sha256:abc", "openai", "float32", True, False, 1024),
        ModelIdentity("m", "sha256:abc", "transformers", "bfloat16", True, False, 1024),
        ModelIdentity("m", "sha256:abc", "transformers", "float32", False, False, 1024),
        ModelIdentity("m", "sha256:abc", "transformers", "float32", True, True, 1024),
        ModelIdentity("m", "sha256:abc", "transformers", "float32", True, False, 512),
        ModelIdentity("m", "sha256:abc", "transformers", "float32", True, False, 1024, scorer_version="0"),
    ]
    fingerprints = {identity.fingerprint() for identity in [base, *variants]}
    assert len(fingerprints) == len(variants) + 1


def test_a_local_checkpoint_is_identified_by_its_content(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"weights v1")
    first = files_digest([weights])
    weights.write_bytes(b"weights v2")
    assert files_digest([weights]) != first
    weights.write_bytes(b"weights v1")
    assert files_digest([weights]) == first


def test_cache_file_survives_an_open_reader(tmp_path):
    with ScoreCache(tmp_path) as cache:
        cache.put_many("m", {"k": CachedScore(1, -1.0, False, False, False)})
        reader = sqlite3.connect(tmp_path / "scores.sqlite")
        assert reader.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 1
        cache.put_many("m", {"k2": CachedScore(1, -2.0, False, False, False)})
        assert reader.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 2
        reader.close()


def test_cache_keys_are_unchanged_and_share_the_data_ids_hash():
    """The key of a known text pair, computed by the code that wrote users' caches: a change would orphan every cache."""
    from typicality.domain import text_id
    from typicality.scoring.requests import text_key

    assert text_key("\n\nHuman: Hi\n\nAssistant:", " Hello there.") == "b66da65cf91176d81a049054b9bcbe81f23817334bfa2e8e48620c4d64eb703b"
    assert text_key("a", "b\ud800") == "422c3e9f74c48fcff37e4ada94ce9b2e024f44867ed58b248db439d52b01af13"  # a lone surrogate still has a key
    assert text_key("", "") == "374708fff7719dd5979ec875d56cd2286f6d3cf7ec317a3b25632aab28ec37bb"
    assert text_key("ab", "c") != text_key("a", "bc")  # parts are length-prefixed
    assert text_id("Hi", " there") == text_key("Hi", " there")[:16]  # one hash for data ids and cache keys


def test_a_float32_and_a_bfloat16_score_never_share_cache_rows(tiny, tiny_model_dir, tmp_path):
    # The GPU default is bfloat16 and the CPU default float32: one cache folder used by both must keep them apart.
    from typicality.scoring import load_backend

    data = data_from_texts(PAIRS)
    half = load_backend(str(tiny_model_dir), device="cpu", dtype="bfloat16", progress=False)
    assert half.identity.fingerprint() == tiny.identity.fingerprint().replace("|float32|", "|bfloat16|")
    full = score(data, Counting(tiny).backend, cache_dir=tmp_path, progress=False, check=False)
    counting = Counting(half)
    lower = score(data, counting.backend, cache_dir=tmp_path, progress=False, check=False)
    assert counting.computed == len(PAIRS) and lower.card.n_from_cache == 0 and lower.card.dtype == "bfloat16"
    with ScoreCache(tmp_path) as cache:
        assert cache.count(full.fingerprint) == cache.count(lower.fingerprint) == len(PAIRS)
    difference = np.abs(lower.table["mean_logprob"].to_numpy() - full.table["mean_logprob"].to_numpy())
    assert 0 < difference.max() < 0.1  # bfloat16 rounding: close to float32, and not the float32 rows read back
