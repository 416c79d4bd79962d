"""Put the committed float32 scores of every helpful-base response into a score cache, so the float32
audit of the comparison is built without scoring again (CPU time is scarce on the shared machine).

    python reports/compare-gemma-3-270m-float32-vs-bfloat16/seed_float32_cache.py CACHE_DIR

Source: reports/hh-rlhf-helpful-base/scores.parquet (all 2,339 pairs, float32, scorer version 1).
The rows go in under the fingerprint that file records, keyed by the text key of the exact
(prompt, response) pair as the scorer computes it, so `typicality audit ... --dtype float32
--cache-dir CACHE_DIR` finds all 600 responses of the 300-pair sample there (its card then says
n_from_cache 600). Scoring 20 of them afresh in float32 gave the same mean log-likelihoods within
1.3e-6 nats per token (max), with the same token counts.
"""

import sys
from pathlib import Path

from typicality.audit_folder import load_scores
from typicality.data import LoadRequest, load
from typicality.scoring.cache import CachedScore, ScoreCache
from typicality.scoring.requests import text_key

ROOT = Path(__file__).resolve().parents[2]

scores = load_scores(ROOT / "reports" / "hh-rlhf-helpful-base" / "scores.parquet")
data = load(LoadRequest("hh-rlhf", data_files=(str(ROOT / "data" / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"),), subset="helpful-base"))
rows = data.responses.merge(scores.table, on=["prompt_id", "response_id"], how="inner", validate="one_to_one")
if len(rows) != len(data.responses) or len(rows) != len(scores.table) or not scores.table["skipped"].isna().all():
    sys.exit("the committed scores do not cover the embedded helpful-base file one to one")
cached = {
    text_key(prompt, response): CachedScore(int(n), float(total), bool(cut), bool(prompt_cut), bool(merged))
    for prompt, response, n, total, cut, prompt_cut, merged in zip(
        rows["prompt"], rows["response"], rows["n_tokens"], rows["sum_logprob"], rows["truncated"], rows["prompt_truncated"], rows["boundary_merged"]
    )
}
with ScoreCache(sys.argv[1]) as cache:
    cache.put_many(scores.card.fingerprint, cached)
    print(f"{len(cached)} float32 scores under {scores.card['fingerprint']} in {cache.path}")
