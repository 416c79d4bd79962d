"""`score()`: every distinct response of a dataset, scored once, through the cache, with progress."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from typicality.data.preference_data import PreferenceData
from typicality.errors import TypicalityError
from typicality.scoring.backends import ScoringBackend, load_backend
from typicality.scoring.batching import plan_batches
from typicality.scoring.cache import CachedScore, ScoreCache
from typicality.scoring.checkpoints import EMBEDDED_NAME
from typicality.scoring.join import scoring_context
from typicality.scoring.paths import cache_root
from typicality.scoring.requests import Prepared, ScoreRequest, Skipped, text_key
from typicality.audit_folder import SCORE_COLUMNS, ScoreResult
from typicality.scoring.sharding import in_shard, parse_shard

DEFAULT_BATCH_TOKENS = 8192


def score(
    data: PreferenceData,
    model: str | ScoringBackend = EMBEDDED_NAME,
    *,
    batch_tokens: int = DEFAULT_BATCH_TOKENS,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    shard: str | tuple[int, int] | None = None,
    **backend_options,
) -> ScoreResult:
    """Mean/sum log-likelihood of every distinct response given its prompt under a reference model.

    `model`: a name for `load_backend` (default: the embedded Gemma 3 270M), or a backend
    already loaded with `load_backend` (then `backend_options` may only change its light
    settings, e.g. max_length). `backend_options`: `backend` (default "transformers") and that
    backend's options (dtype, bos, chat_template, max_length, revision, trust_remote_code).
    `cache_dir`: the score cache folder (default: `$TYPICALITY_CACHE` or the user cache).
    Scores are committed to the cache batch by batch, so an interrupted run resumes where it stopped.
    `shard`: "i/n" or (i, n) scores only shard i of n (by a hash of response_id; see sharding.py).
    """
    started = time.perf_counter()
    if batch_tokens < 1:
        raise TypicalityError(f"--batch-tokens must be at least 1, got {batch_tokens}.")
    missing = [c for c in ("prompt_id", "prompt", "response_id", "response") if c not in data.responses.columns]
    if missing:
        raise TypicalityError(f"Dataset '{data.name}' has no {', '.join(missing)} column in its responses table.")
    if shard is not None:  # checked before a model is loaded
        shard_index, shard_count = parse_shard(shard) if isinstance(shard, str) else parse_shard(f"{shard[0]}/{shard[1]}")
    backend = _backend(model, device, progress, backend_options)
    identity = backend.identity
    fingerprint = identity.fingerprint()

    responses = data.responses
    if shard is not None:
        responses = responses[in_shard(responses["response_id"], shard_index, shard_count)]
    keys = [text_key(p, r) for p, r in zip(responses["prompt"], responses["response"])]
    with ScoreCache(cache_dir if cache_dir is not None else cache_root()) as cache:
        known = cache.get_many(fingerprint, keys)
        from_cache = set(known)
        todo = {
            key: ScoreRequest(key, scoring_context(p, r), r)
            for key, p, r in zip(keys, responses["prompt"], responses["response"])
            if key not in known
        }
        if hasattr(backend, "score_texts"):  # endpoint backends: the server tokenizes (openai_backend.py)
            skipped, ready, computed_positions, compute_seconds = _run_texts(backend, cache, fingerprint, todo, known, progress)
        else:
            prepared = backend.prepare(list(todo.values()))
            skipped = {item.key: item.reason for item in prepared if isinstance(item, Skipped)}
            ready = [item for item in prepared if isinstance(item, Prepared)]
            computed_positions, compute_seconds = _run_batches(backend, cache, fingerprint, ready, known, batch_tokens, progress)

    table = _table(responses, keys, known, skipped, fingerprint)
    scored = table[table["skipped"].isna()]
    elapsed = time.perf_counter() - started
    card = {
        **identity.to_dict(),
        "model": identity.name,
        "fingerprint": fingerprint,
        **backend.describe(),
        "n_responses": int(len(table)),
        "n_scored": int(len(scored)),
        "n_from_cache": sum(key in from_cache for key in keys),
        "n_computed": int(len(ready)),
        "prompt_truncated": int(scored["prompt_truncated"].sum()),
        "response_truncated": int(scored["truncated"].sum()),
        "boundary_merged": int(scored["boundary_merged"].sum()),
        "skipped": dict(Counter(table["skipped"].dropna())),
        "batch_tokens": batch_tokens,
        "shard": None if shard is None else f"{shard_index}/{shard_count}",
        "elapsed_s": round(elapsed, 3),
        "compute_s": round(compute_seconds, 3),
        # Positions a one-at-a-time scorer would run (prompt + response per response), per second of compute.
        "tokens_per_s": round(computed_positions / compute_seconds, 1) if compute_seconds > 0 else None,
        "software": _software(),
    }
    return ScoreResult(table, card)


def _backend(model, device, progress, options) -> ScoringBackend:
    if isinstance(model, ScoringBackend):
        if device is not None and device != model.device:
            raise TypicalityError(f"The loaded backend runs on {model.device}, not {device}; load it with device={device!r}.")
        options = {key: value for key, value in options.items() if key != "backend"}
        return model.configured(**options) if options else model
    backend_name = options.pop("backend", "openai" if str(model).startswith("openai:") else "transformers")
    return load_backend(str(model), backend_name, device=device, progress=progress, **options)


def _run_batches(backend, cache, fingerprint, ready, known, batch_tokens, progress) -> tuple[int, float]:
    """Score the prepared responses batch by batch, committing each batch to the cache."""
    positions = 0
    seconds = 0.0
    bar = tqdm(total=len(ready), unit="resp", desc="scoring", disable=not progress or not ready, dynamic_ncols=True)
    try:
        for batch in plan_batches(ready, batch_tokens):
            tick = time.perf_counter()
            scores = backend.score_batch(batch)
            rows = {
                item.key: CachedScore(s.n_tokens, s.sum_logprob, item.truncated, item.prompt_truncated, item.boundary_merged)
                for item, s in zip(batch, scores)
            }
            cache.put_many(fingerprint, rows)
            known.update(rows)
            seconds += time.perf_counter() - tick
            positions += sum(item.n_positions for item in batch)
            bar.update(len(batch))
            bar.set_postfix_str(f"{positions / seconds:,.0f} tok/s")
    finally:
        bar.close()
    return positions, seconds


def _run_texts(backend, cache, fingerprint, todo, known, progress) -> tuple[dict, list, int, float]:
    """A backend that scores whole texts (an endpoint): it commits to the cache as results come in."""

    def store(rows: dict[str, CachedScore]) -> None:
        cache.put_many(fingerprint, rows)
        known.update(rows)

    tick = time.perf_counter()
    outcomes = backend.score_texts(list(todo.values()), store, progress)
    skipped = {key: item.reason for key, item in outcomes.items() if isinstance(item, Skipped)}
    ready = [key for key, item in outcomes.items() if not isinstance(item, Skipped)]
    return skipped, ready, backend.stats.server_tokens, time.perf_counter() - tick


def _table(responses: pd.DataFrame, keys: list[str], known: dict, skipped: dict, fingerprint: str) -> pd.DataFrame:
    rows = []
    for prompt_id, response_id, key in zip(responses["prompt_id"], responses["response_id"], keys):
        found = known.get(key)
        if found is None:
            rows.append((prompt_id, response_id, 0, np.nan, np.nan, False, False, False, skipped[key], fingerprint))
        else:
            mean = found.sum_logprob / found.n_tokens
            rows.append(
                (prompt_id, response_id, found.n_tokens, found.sum_logprob, mean, found.truncated, found.prompt_truncated, found.boundary_merged, None, fingerprint)
            )
    table = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    table["n_tokens"] = table["n_tokens"].astype("int64")
    for column in ("sum_logprob", "mean_logprob"):
        table[column] = table[column].astype("float64")
    for column in ("truncated", "prompt_truncated", "boundary_merged"):
        table[column] = table[column].astype(bool)
    return table


def _software() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("typicality", "torch", "transformers"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found
