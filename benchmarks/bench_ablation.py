"""Benchmark: what each of the scorer's tricks buys, one switched off at a time, in one run.

    .venv/bin/python benchmarks/bench_ablation.py [--pairs 40] [--repeats 3]

The transformers backend's docstring names its tricks with the figure each buys; this script
measures those figures. On the same real HH-RLHF pairs, the embedded Gemma 3 270M in float32:
- `scorer`: as shipped;
- `one response per row`: no context sharing (`share_contexts=False`: each response runs after
  its own copy of the prompt, the model's own causal mask);
- `memory returned`: freed memory given back to the kernel after every tensor, as glibc does
  by default (`memory.freed_memory_kept` switched off);
- `log-softmax by maximum`: every row's log-softmax shifted by its maximum logit (one more pass
  over the 262k logits) instead of the target's.
The variants run interleaved, `--repeats` rounds after a warm-up round, so a change in the machine's load hits all
alike; medians are quoted, each as a ratio to the shipped scorer, and the scores of every
variant are checked against the shipped one (they must agree within 1e-4 nats per token).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workload import hh_rlhf  # noqa: E402

from typicality.scoring import (  # noqa: E402
    load_backend,
    score,
    transformers_backend,  # noqa: E402
)


@contextlib.contextmanager
def memory_returned():
    original = transformers_backend.freed_memory_kept
    transformers_backend.freed_memory_kept = contextlib.nullcontext
    try:
        yield
    finally:
        transformers_backend.freed_memory_kept = original


@contextlib.contextmanager
def log_softmax_by_maximum(backend):
    backend._token_logprobs = lambda outputs, targets: _by_maximum(backend, outputs, targets)
    try:
        yield
    finally:
        del backend._token_logprobs


def _by_maximum(backend, outputs, targets):
    import torch

    chunk = max(1, transformers_backend.LOGITS_PER_CHUNK // backend.model.config.get_text_config().vocab_size)
    return torch.cat([
        backend._logprobs_by_maximum(outputs[start : start + chunk], targets[start : start + chunk]).cpu()
        for start in range(0, len(targets), chunk)
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40, help="HH-RLHF pairs (default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians quoted (default 3)")
    args = parser.parse_args()

    data = hh_rlhf(args.pairs)
    backend = load_backend("gemma-3-270m", device="cpu", progress=False)
    variants = {
        "scorer": (backend, contextlib.nullcontext),
        "one response per row": (backend.configured(share_contexts=False), contextlib.nullcontext),
        "memory returned": (backend, memory_returned),
        "log-softmax by maximum": (backend, lambda: log_softmax_by_maximum(backend)),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    means: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        score(data.limit(1), backend, cache_dir=Path(folder) / "warm-up", progress=False)
        for round_ in range(args.repeats + 1):  # round 0 warms every variant up (first-call costs) and is not counted
            for name, (variant, switch) in variants.items():
                with switch():
                    tick = time.perf_counter()
                    result = score(data, variant, cache_dir=Path(folder) / f"{round_}-{name}", progress=False)
                    elapsed = time.perf_counter() - tick
                if round_:
                    seconds[name].append(elapsed)
                means[name] = result.table["mean_logprob"].tolist()
                print(f"round {round_}{' (warm-up)' if not round_ else ''} {name:<24} {elapsed:6.1f} s", flush=True)

    base = statistics.median(seconds["scorer"])
    print(f"\n{args.pairs} HH-RLHF pairs, medians of {args.repeats} interleaved rounds:")
    print(f"{'variant':<24} {'seconds':>8} {'scorer is faster by':>20} {'max |d mean_logprob|':>21}")
    for name in variants:
        worst = max(abs(a - b) for a, b in zip(means[name], means["scorer"]))
        median = statistics.median(seconds[name])
        print(f"{name:<24} {median:8.1f} {median / base:19.2f}x {worst:21.1e}")
    for name in list(variants)[1:]:
        key = name.replace(" ", "_").replace("-", "_")
        print(f"gain_{key}={statistics.median(seconds[name]) / base:.2f}")


if __name__ == "__main__":
    main()
