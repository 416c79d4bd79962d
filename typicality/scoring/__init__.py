"""Stage 2: how typical is each response? Its log-likelihood given the prompt under a base model.

    from typicality.scoring import score
    result = score(data)                 # embedded Gemma 3 270M, cached, resumable
    result.table                         # prompt_id, response_id, n_tokens, sum_logprob, mean_logprob, ...
    result.save("scores.parquet")

Skipped responses (empty, whitespace-only, unencodable) stay in `table` with NaN scores and the
reason in its `skipped` column; `ScoreResult.scored` drops them.
"""

from typicality.scoring.backends import ScoringBackend, load_backend, register_backend
from typicality.scoring.cache import ScoreCache
from typicality.scoring.checkpoints import EMBEDDED_NAME
from typicality.scoring.fingerprint import SCORER_VERSION, ModelIdentity
from typicality.scoring.naive import naive_score
from typicality.scoring.paths import cache_root
from typicality.audit_folder import ScoreResult, load_scores
from typicality.scoring.runner import DEFAULT_BATCH_TOKENS, score

__all__ = [
    "DEFAULT_BATCH_TOKENS",
    "EMBEDDED_NAME",
    "SCORER_VERSION",
    "ModelIdentity",
    "ScoreCache",
    "ScoreResult",
    "ScoringBackend",
    "cache_root",
    "load_backend",
    "load_scores",
    "naive_score",
    "register_backend",
    "score",
]
