"""`score()`: every distinct response of a dataset, scored once, through the cache, with progress.

The steps, each its own function: settle the options (and check them before any model
loads), load or reconfigure the backend, run the quick conformance check (check.py) for any
model but the embedded one, hand the responses the cache lacks to the backend's `score_into`,
then build the table and the card from the cache. With `engine="ray"` the "backend" is a
`RayEngine` (ray_engine.py): the model loads in Ray workers, the check runs there, and its
`score_into` commits the workers' rows into the same cache here.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pandas as pd

from typicality.domain import SCORE_COLUMNS, PreferenceData, ScoreResult
from typicality.errors import TypicalityError, require_type
from typicality.formatting import truncation_note
from typicality.results import ScoreCard
from typicality.scoring.backends import DEFAULT_BATCH_TOKENS, ScoringBackend, load_backend
from typicality.scoring.cache import CachedScore, ScoreCache
from typicality.scoring.checkpoints import EMBEDDED_NAME
from typicality.scoring.join import scoring_context
from typicality.scoring.options import ScoringOptions
from typicality.scoring.requests import ScoreRequest, ScoringRun, text_key
from typicality.scoring.sharding import in_shard
from typicality.software import software_versions

__all__ = ["DEFAULT_BATCH_TOKENS", "score"]

# Settings of a run, as opposed to settings of the model: they apply to an already loaded backend too.
RUN_SETTINGS = ("cache_dir", "shard", "check", "engine", "ray_address", "workers", "gpus_per_worker", "ray_batch_size")
SOFTWARE = ("typicality", "torch", "transformers", "requests")


def score(
    data: PreferenceData,
    model: str | ScoringOptions | ScoringBackend = EMBEDDED_NAME,
    *,
    progress: bool = True,
    **settings,
) -> ScoreResult:
    """Mean/sum log-likelihood of every distinct response given its prompt under a reference model.

    `model`: a `ScoringOptions`; or a model name (default: the embedded Gemma 3 270M) with the
    options as keyword `settings` (as `ScoringOptions.create`: the run's cache_dir, shard, check,
    ... and the backend's own options, e.g. dtype, bos, max_length, batch_tokens); or a backend already loaded with
    `load_backend` (then `settings` may only change its light settings, e.g. max_length, and
    the run's cache_dir, shard and check). Options and the cache are checked before a model loads.
    Scores are committed to the cache as they are computed, so an interrupted run resumes
    where it stopped. `shard`: "i/n" scores only shard i of n (by a hash of response_id).
    """
    started = time.perf_counter()
    require_type("score", "data", data, PreferenceData, "a PreferenceData", "load it with typicality.load(...)")
    require_type("score", "model", model, (str, ScoringOptions, ScoringBackend), "a model name, a ScoringOptions or a loaded backend")
    _require_columns(data)
    backend, options = _backend_and_options(model, settings, progress)
    check = _preflight(backend, options)
    fingerprint = backend.identity.fingerprint()

    responses = _shard(data.responses, options)
    keys = [text_key(p, r) for p, r in zip(responses["prompt"], responses["response"])]
    with ScoreCache(options.cache_folder()) as cache:
        known = cache.get_many(fingerprint, keys)
        from_cache = set(known)
        todo = _requests(responses, keys, known)
        run = backend.score_into(todo, cache, fingerprint, progress)
        known.update(cache.get_many(fingerprint, [request.key for request in todo]))

    table = _table(responses, keys, known, run.skipped, fingerprint)
    card = _card(backend, table, run, options, check, n_from_cache=sum(key in from_cache for key in keys), elapsed_s=round(time.perf_counter() - started, 3))
    return ScoreResult(table, card)


def _require_columns(data: PreferenceData) -> None:
    missing = [c for c in ("prompt_id", "prompt", "response_id", "response") if c not in data.responses.columns]
    if missing:
        raise TypicalityError(f"Dataset '{data.name}' has no {', '.join(missing)} column in its responses table.")


def _backend_and_options(model, settings: dict, progress: bool) -> tuple[ScoringBackend, ScoringOptions]:
    """The backend to score with and the run's options, every setting checked before a model loads."""
    if isinstance(model, ScoringBackend):
        return _configured(model, settings)
    options = model.replace(**settings) if isinstance(model, ScoringOptions) else ScoringOptions.create(model=str(model), **settings)
    options.validate()
    if options.engine == "ray":
        from typicality.scoring.ray_engine import RayEngine

        return RayEngine(options), options
    return load_backend(options.model, options.backend_name, progress=progress, **options.backend_options()), options


def _configured(backend: ScoringBackend, settings: dict) -> tuple[ScoringBackend, ScoringOptions]:
    """A loaded backend with the light settings changed; anything that needs a reload is refused."""
    device = settings.pop("device", None)
    if device is not None and device != backend.device:
        raise TypicalityError(f"The loaded backend runs on {backend.device}, not {device}; load it with device={device!r}.")
    settings = {key: value for key, value in settings.items() if key != "backend" and value is not None}
    run = {key: settings.pop(key) for key in RUN_SETTINGS if key in settings}
    options = ScoringOptions.create(model=backend.identity.name, backend=backend.name, **run, **settings).validate(loaded=True)
    return (backend.configured(**settings) if settings else backend), options


def _preflight(backend: ScoringBackend, options: ScoringOptions) -> dict | None:
    """The quick conformance check of any model but the embedded one in transformers (tested by the suite): refused if it fails."""
    if not options.check:
        return None
    from typicality.scoring.check import check_backend, needs_quick_check

    if options.engine == "ray":
        # The check ran where the model loaded, in a Ray worker (the driver loads none), if that model needed one.
        report = backend.check_report
    else:
        report = check_backend(backend, quick=True) if needs_quick_check(backend) else None
    if report is None:
        return None
    if not report.passed:
        raise TypicalityError(report.refusal(options.model))
    return report.to_dict()


def _shard(responses: pd.DataFrame, options: ScoringOptions) -> pd.DataFrame:
    parts = options.shard_parts()
    return responses if parts is None else responses[in_shard(responses["response_id"], *parts)]


def _requests(responses: pd.DataFrame, keys: list[str], known: dict) -> list[ScoreRequest]:
    """One request per distinct text pair the cache lacks, with the documented join applied (join.py)."""
    todo = {
        key: ScoreRequest(key, scoring_context(p, r), r)
        for key, p, r in zip(keys, responses["prompt"], responses["response"])
        if key not in known
    }
    return list(todo.values())


def _table(responses: pd.DataFrame, keys: list[str], known: dict[str, CachedScore], skipped: dict, fingerprint: str) -> pd.DataFrame:
    rows = []
    for prompt_id, response_id, key in zip(responses["prompt_id"], responses["response_id"], keys):
        found = known.get(key)
        if found is None:
            rows.append((prompt_id, response_id, 0, np.nan, np.nan, False, False, False, skipped[key], fingerprint))
        else:
            mean = found.sum_logprob / found.n_tokens
            rows.append(
                (
                    prompt_id,
                    response_id,
                    found.n_tokens,
                    found.sum_logprob,
                    mean,
                    found.truncated,
                    found.prompt_truncated,
                    found.boundary_merged,
                    None,
                    fingerprint,
                )
            )
    table = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    table["n_tokens"] = table["n_tokens"].astype("int64")
    for column in ("sum_logprob", "mean_logprob"):
        table[column] = table[column].astype("float64")
    for column in ("truncated", "prompt_truncated", "boundary_merged"):
        table[column] = table[column].astype(bool)
    return table


def _card(
    backend: ScoringBackend, table: pd.DataFrame, run: ScoringRun, options: ScoringOptions, check: dict | None, *, n_from_cache: int, elapsed_s: float
) -> ScoreCard:
    """The score card: the model's identity and settings, what was scored and skipped, the cost, the check.

    The backend's own facts (`describe()`, `run.facts`) are fields of `ScoreCard` too: one it does not
    declare stops here with the key named, before anything is saved.
    """
    identity = backend.identity
    scored = table[table["skipped"].isna()]
    return ScoreCard.from_dict({
        **identity.to_dict(),
        "model": identity.name,
        "fingerprint": identity.fingerprint(),
        **backend.describe(),
        "n_responses": int(len(table)),
        "n_scored": int(len(scored)),
        "n_computed": run.computed,
        "prompt_truncated": int(scored["prompt_truncated"].sum()),
        "response_truncated": int(scored["truncated"].sum()),
        "boundary_merged": int(scored["boundary_merged"].sum()),
        "skipped": dict(Counter(table["skipped"].dropna())),
        "shard": options.shard,
        "compute_s": round(run.seconds, 3),
        # Token positions per second of compute: prompt + response per response (local), or as the server counted them.
        "tokens_per_s": run.tokens_per_s,
        **run.facts,
        "check": check,  # the quick conformance check (check.py); None for the embedded model or with check=False
        # What a reader must know about these scores, in words (the counts above say how many; this says what it means).
        "notes": [note for note in (truncation_note(int(scored["truncated"].sum()), identity.window),) if note],
        "software": software_versions(SOFTWARE),
        "n_from_cache": n_from_cache,
        "elapsed_s": elapsed_s,
    })
