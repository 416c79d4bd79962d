"""Stage 2: how typical is each response? Its log-likelihood given the prompt under a base model.

    from typicality.scoring import ScoringOptions, score
    result = score(data)                 # embedded Gemma 3 270M, cached, resumable
    result = score(data, ScoringOptions.create(model="openai:http://gpu:8000/v1#llama-3.1-405b", concurrency=64))
    result = score(data, ScoringOptions(model="meta-llama/Llama-3.1-8B", engine="ray", workers=8))  # Ray actor workers
    result.table                         # prompt_id, response_id, n_tokens, sum_logprob, mean_logprob, ...
    save_scores(result, "scores.parquet")

Skipped responses (empty, whitespace-only, unencodable) stay in `table` with NaN scores and the
reason in its `skipped` column; `ScoreResult.scored` drops them. Importing this package loads no
torch: the transformers backend (and torch) load only when an in-process model is loaded.
"""

from __future__ import annotations

from typicality.scoring.backend_options import BackendOptions
from typicality.scoring.backends import DEFAULT_BATCH_TOKENS, ScoringBackend, TokenizerBackend, load_backend, register_backend
from typicality.scoring.cache import ScoreCache
from typicality.scoring.checkpoints import EMBEDDED_NAME
from typicality.scoring.fingerprint import SCORER_VERSION, ModelIdentity
from typicality.scoring.options import ScoringOptions
from typicality.scoring.paths import cache_root

__all__ = [
    "DEFAULT_BATCH_TOKENS",
    "BackendOptions",
    "EMBEDDED_NAME",
    "SCORER_VERSION",
    "ModelIdentity",
    "ScoreCache",
    "ScoreResult",
    "ScoringBackend",
    "ScoringOptions",
    "TokenizerBackend",
    "cache_root",
    "check_backend",
    "check_model",
    "load_backend",
    "load_scores",
    "merge_caches",
    "naive_score",
    "register_backend",
    "save_scores",
    "score",
]

# Loaded on first use: naive_score needs torch, the check needs nothing heavy but is rarely used, and
# the rest load pandas, which the command line's parser (built from the backend registry) does not need.
_LAZY = {
    "naive_score": "typicality.scoring.naive",
    "check_backend": "typicality.scoring.check",
    "check_model": "typicality.scoring.check",
    "merge_caches": "typicality.scoring.cache_merge",
    "score": "typicality.scoring.runner",
    "ScoreResult": "typicality.domain",
    "load_scores": "typicality.audit_folder",
    "save_scores": "typicality.audit_folder",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'typicality.scoring' has no attribute {name!r}")
