"""Benchmark: the scorer against the naive computation on real HH-RLHF pairs, in one run.

    .venv/bin/python benchmarks/bench_scoring.py [--pairs 40] [--subset helpful-base] [--batch-tokens B]

Scores the same responses twice with the embedded Gemma 3 270M: with `typicality.scoring.score`
on an empty cache, then naively (one sequence at a time, full logits, float32, `torch.no_grad`). Both rates count the same tokens: prompt + response of every response, i.e. the
positions the naive method runs. Prints wall and CPU seconds and tokens/s of both, the largest
score difference, peak RSS, and as its last line `speedup_vs_naive=<ratio>` (of wall times).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from typicality.data import load  # noqa: E402
from typicality.scoring import DEFAULT_BATCH_TOKENS, load_backend, naive_score, score  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "hh-rlhf"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40, help="HH-RLHF pairs (prompts) to score (default 40)")
    parser.add_argument("--subset", default="helpful-base", help="HH-RLHF subset under ../shared/data (default helpful-base)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pair sample (default 0)")
    parser.add_argument("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, help=f"scorer batch budget (default {DEFAULT_BATCH_TOKENS})")
    args = parser.parse_args()

    data_file = DATA / args.subset / "test.jsonl.gz"
    if not data_file.exists():
        sys.exit(f"bench_scoring: needs the real data at {data_file} (../shared/data beside the checkout)")
    data = load("hh-rlhf", data_files=str(data_file), limit=args.pairs, seed=args.seed)
    tick = time.perf_counter()
    backend = load_backend("gemma-3-270m", device="cpu")
    print(f"model: {backend.identity.fingerprint()} loaded in {time.perf_counter() - tick:.1f} s; torch threads {torch.get_num_threads()}")
    pairs = list(zip(data.responses["prompt"], data.responses["response"]))
    print(f"data: {len(data.comparisons)} pairs, {len(pairs)} distinct responses, {data.n_prompts} prompts ({args.subset}, seed {args.seed})")

    # Both phases warm up on one short text, so neither pays first-call costs. The scorer runs
    # first, so the peak RSS printed after it is its own (the naive's logits are the larger).
    naive_score(backend.model, backend.tokenizer, "Hello", " there")
    with tempfile.TemporaryDirectory() as cache_dir:
        score(data.limit(1, seed=args.seed), backend, cache_dir=Path(cache_dir) / "warm-up", progress=False)
        tick, cpu = time.perf_counter(), time.process_time()
        result = score(data, backend, batch_tokens=args.batch_tokens, cache_dir=cache_dir, progress=False)
        scorer_seconds, scorer_cpu = time.perf_counter() - tick, time.process_time() - cpu
    scorer_rss = peak_rss_mib()

    tick, cpu = time.perf_counter(), time.process_time()
    naive = [naive_score(backend.model, backend.tokenizer, prompt, response) for prompt, response in pairs]
    naive_seconds, naive_cpu = time.perf_counter() - tick, time.process_time() - cpu
    naive_rss = peak_rss_mib()
    tokens = sum(len(backend.tokenizer(p + r, add_special_tokens=False)["input_ids"]) + 1 for p, r in pairs)

    difference = max(abs(row - reference["mean_logprob"]) for row, reference in zip(result.table["mean_logprob"], naive))
    print(f"tokens (prompt + response, per response): {tokens}")
    print(f"naive:  {naive_seconds:8.1f} s wall {naive_cpu:8.1f} s CPU  {tokens / naive_seconds:8.1f} tokens/s  peak RSS {naive_rss:,.0f} MiB (process, so far)")
    print(f"scorer: {scorer_seconds:8.1f} s wall {scorer_cpu:8.1f} s CPU  {tokens / scorer_seconds:8.1f} tokens/s  peak RSS {scorer_rss:,.0f} MiB (process, so far)  (batch_tokens {args.batch_tokens})")
    print(f"max |mean_logprob difference| = {difference:.2e}")
    # CPU seconds are less disturbed than wall time when other processes share the cores.
    print(f"speedup_vs_naive_cpu_time={naive_cpu / scorer_cpu:.2f}")
    print(f"speedup_vs_naive={naive_seconds / scorer_seconds:.2f}")


if __name__ == "__main__":
    main()
