"""One scoring method on the benchmark's workload, in its own process, so its peak RSS is its own.

    .venv/bin/python benchmarks/scoring_phases.py scorer  --pairs 40 --out scorer.json
    .venv/bin/python benchmarks/scoring_phases.py scorer-profile --pairs 40 --out profile.json
    .venv/bin/python benchmarks/scoring_phases.py naive   --pairs 40 --out naive.json
    .venv/bin/python benchmarks/scoring_phases.py lm-eval --pairs 40 --batch-size 1 --out lm_eval_1.json
    .venv-vllm/bin/python benchmarks/scoring_phases.py vllm --pairs 40 --out vllm.json [--vllm-eager]

Each writes a JSON file: wall and CPU seconds of the scoring alone (model loading and a short
warm-up excluded), peak RSS of the whole process, and per response (in the workload's order)
the scored token count and summed log-likelihood. `bench_scoring.py` runs them and compares.
`vllm` is vLLM's CPU build offline (`vllm:gemma-3-270m`: the engine in this process, float32,
prefix caching off, vLLM's default torch.compile unless --vllm-eager); it runs in the vLLM
virtualenv (`make install-vllm`) and also records the engine's start time.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from workload import hh_rlhf, text_pairs  # noqa: E402

from typicality.scoring import DEFAULT_BATCH_TOKENS, load_backend, naive_score, score  # noqa: E402
from typicality.scoring.checkpoints import embedded_checkpoint  # noqa: E402
from typicality.scoring.join import scoring_context  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_scorer(data, pairs, batch_tokens: int) -> dict:
    backend = load_backend("gemma-3-270m", device="cpu")
    with tempfile.TemporaryDirectory() as cache_dir:
        score(data.limit(1, seed=0), backend, cache_dir=Path(cache_dir) / "warm-up", progress=False)
        tick, cpu = time.perf_counter(), time.process_time()
        result = score(data, backend, batch_tokens=batch_tokens, cache_dir=cache_dir, progress=False)
        seconds, cpu_seconds = time.perf_counter() - tick, time.process_time() - cpu
    table = result.table
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "n_tokens": table["n_tokens"].tolist(),
        "sum_logprob": table["sum_logprob"].tolist(),
        "batch_tokens": batch_tokens,
    }


def run_scorer_profiled(data, batch_tokens: int) -> dict:
    """Where the scorer's time goes: one run with every aten op timed (not the timed run: the
    timing adds a few microseconds per op).

    CPU ops run one after another on the calling thread, each using all threads, so the op times
    add up to the scoring time less Python's own. Matmuls (`linear`, and the output layer's
    2-D `matmul`; seen whole at this level) are counted with the FLOPs of their shapes, padding
    included. torch's profiler is not used: with shapes or FLOPs recorded it
    slowed this workload 5x.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class OpClock(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.seconds = {"matmul": 0.0, "attention": 0.0, "other": 0.0}
            self.matmul_flops = 0.0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            tick = time.perf_counter()
            out = func(*args, **(kwargs or {}))
            elapsed = time.perf_counter() - tick
            name = func.__name__.split(".")[0]
            if name == "linear":  # (..., in) @ weight (out, in).T
                inputs, weight = args[0], args[1]
                self.matmul_flops += 2.0 * inputs.numel() * weight.shape[0]
                self.seconds["matmul"] += elapsed
            elif name in ("matmul", "mm"):  # 2-D: (m, k) @ (k, n)
                left, right = args[0], args[1]
                self.matmul_flops += 2.0 * left.shape[0] * left.shape[1] * right.shape[1]
                self.seconds["matmul"] += elapsed
            elif "scaled_dot_product" in name:
                self.seconds["attention"] += elapsed
            else:
                self.seconds["other"] += elapsed
            return out

    backend = load_backend("gemma-3-270m", device="cpu")
    with tempfile.TemporaryDirectory() as cache_dir:
        score(data.limit(1, seed=0), backend, cache_dir=Path(cache_dir) / "warm-up", progress=False)
        with OpClock() as clock:
            tick = time.perf_counter()
            score(data, backend, batch_tokens=batch_tokens, cache_dir=cache_dir, progress=False)
            seconds = time.perf_counter() - tick
    return {"seconds": seconds, "op_seconds": clock.seconds, "matmul_flops": clock.matmul_flops}


def run_vllm(data, eager: bool) -> dict:
    """vLLM offline on the same pairs: the project's token ids, one `generate` per 32k positions, prompt log-probabilities."""
    tick = time.perf_counter()
    backend = load_backend("vllm:gemma-3-270m", enforce_eager=eager, progress=False)
    start_seconds = time.perf_counter() - tick
    with tempfile.TemporaryDirectory() as cache_dir:
        score(data.limit(1, seed=0), backend, cache_dir=Path(cache_dir) / "warm-up", progress=False, check=False)
        tick, cpu = time.perf_counter(), time.process_time()
        result = score(data, backend, cache_dir=cache_dir, progress=False, check=False)
        seconds, cpu_seconds = time.perf_counter() - tick, time.process_time() - cpu
    describe = backend.describe()
    backend.close()
    table = result.table
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "start_seconds": start_seconds,
        "n_tokens": table["n_tokens"].tolist(),
        "sum_logprob": table["sum_logprob"].tolist(),
        "eager": eager,
        "vllm": describe["vllm"],
        # The engine runs in this process on vLLM's CPU build (vllm_backend._cpu_defaults); children counted in case it did not.
        "children_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_naive(data, pairs) -> dict:
    backend = load_backend("gemma-3-270m", device="cpu")
    naive_score(backend.model, backend.tokenizer, "Hello", " there")  # warm-up
    tick, cpu = time.perf_counter(), time.process_time()
    rows = [naive_score(backend.model, backend.tokenizer, prompt, response) for prompt, response in pairs]
    seconds, cpu_seconds = time.perf_counter() - tick, time.process_time() - cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "n_tokens": [row["n_tokens"] for row in rows],
        "sum_logprob": [row["sum_logprob"] for row in rows],
    }


def run_lm_eval(data, pairs, batch_size: int) -> dict:
    """lm-evaluation-harness's HFLM on the same converted checkpoint: float32, BOS on, the same join."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    checkpoint = str(embedded_checkpoint(progress=False))
    model = HFLM(pretrained=checkpoint, backend="causal", dtype="float32", device="cpu", batch_size=batch_size, add_bos_token=True)

    def requests(items):
        return [
            Instance(request_type="loglikelihood", doc={}, arguments=(scoring_context(prompt, response), response), idx=index)
            for index, (prompt, response) in enumerate(items)
        ]

    model.loglikelihood(requests([("Hello", " there")]), disable_tqdm=True)  # warm-up
    tick, cpu = time.perf_counter(), time.process_time()
    answers = model.loglikelihood(requests(pairs), disable_tqdm=True)
    seconds, cpu_seconds = time.perf_counter() - tick, time.process_time() - cpu
    # The token counts of lm-eval's own split (context / continuation), to locate any boundary disagreement.
    counts = [len(model._encode_pair(scoring_context(p, r), r)[1]) for p, r in pairs]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "n_tokens": counts,
        "sum_logprob": [float(logprob) for logprob, _ in answers],
        "batch_size": batch_size,
        "bos_first": model.tok_encode("Hello")[0] == model.tokenizer.bos_token_id,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=["scorer", "scorer-profile", "naive", "lm-eval", "vllm"])
    parser.add_argument("--pairs", type=int, default=40, help="HH-RLHF pairs to score (default 40)")
    parser.add_argument("--subset", default="helpful-base")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pair sample (default 0)")
    parser.add_argument("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, help="the scorer's batch budget")
    parser.add_argument("--batch-size", type=int, default=1, help="lm-eval's batch size")
    parser.add_argument("--vllm-eager", action="store_true", help="vllm: no torch.compile (faster start; scoring speed may differ)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()

    data = hh_rlhf(args.pairs, args.subset, args.seed)
    pairs = text_pairs(data)
    if args.method == "scorer":
        result = run_scorer(data, pairs, args.batch_tokens)
    elif args.method == "scorer-profile":
        result = run_scorer_profiled(data, args.batch_tokens)
    elif args.method == "naive":
        result = run_naive(data, pairs)
    elif args.method == "vllm":
        result = run_vllm(data, args.vllm_eager)
    else:
        result = run_lm_eval(data, pairs, args.batch_size)
    result.update(method=args.method, pairs=args.pairs, responses=len(pairs), threads=torch.get_num_threads(), peak_rss_mib=peak_rss_mib())
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
