"""Benchmark: `--engine ray --workers 2` against the single-process scorer, on the same HH-RLHF pairs, in one run.

    .venv/bin/python benchmarks/bench_ray.py [--pairs 100] [--small 20] [--workers 2]

Each engine runs in its own process (this script's `_engine` mode), which scores `--small`
pairs and then `--pairs` pairs, each into an empty cache, with the embedded Gemma 3 270M in
float32 on CPU. For the Ray engine that process starts a local cluster (`ray.init`, as the
CLI does without --ray-address) whose worker processes are its descendants. Measured:

- wall time of the `--pairs` run as a user waits for it: the single process's model load and
  scoring; for Ray, the cluster's start, the probe, the workers' model loads and the scoring;
- peak memory of the whole process tree (driver, Ray's own processes and the workers), sampled
  every 0.25 s from outside: the sum of PSS (shared pages counted once, split between their
  users) and the sum of RSS (shared pages counted in every process);
- the time per response at the margin, (T(pairs) - T(small)) / (responses(pairs) - responses(small)),
  which leaves out the fixed costs; and the fixed cost, T - margin x responses;
- the overhead Ray adds per response: the Ray run's margin less the workers' own scoring time
  per response divided by the workers (what the margin would be if the workers never waited);
- the break-even size: the responses at which both engines' lines (fixed + margin x n) cross
  on this machine, and projected for W workers that each score as fast as the single process
  (W GPUs), from the measured fixed costs and overhead.

This machine has 2 cores, shared: the single process runs 2 threads, the Ray workers 1 each.
The load average before and after is printed; compare figures from one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _engine(args) -> None:
    """Child process: score `--small` then `--pairs` pairs with one engine; print one JSON line."""
    from workload import hh_rlhf

    from typicality.scoring import load_backend, score

    started = time.perf_counter()
    facts: dict = {"engine": args.engine}
    with tempfile.TemporaryDirectory() as folder:
        if args.engine == "local":
            backend = load_backend("gemma-3-270m", device="cpu", progress=False)
            facts["load_s"] = time.perf_counter() - started
            run = lambda data, cache: score(data, backend, cache_dir=cache, progress=False)  # noqa: E731
        else:
            import ray

            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(address="local", num_cpus=args.workers, include_dashboard=False, logging_level="WARNING")
            facts["load_s"] = time.perf_counter() - started  # the cluster's start
            run = lambda data, cache: score(data, "gemma-3-270m", device="cpu", engine="ray", workers=args.workers,  # noqa: E731
                                            cache_dir=cache, progress=False)
        for label, pairs in (("small", args.small), ("large", args.pairs)):
            data = hh_rlhf(pairs, seed=args.seed)
            tick = time.perf_counter()
            result = run(data, Path(folder) / label)
            facts[label] = {"pairs": pairs, "responses": int(result.card.n_computed), "seconds": time.perf_counter() - tick,
                            "worker_compute_s": result.card.ray_worker_compute_s, "tokens": result.card.tokens_per_s,
                            "sum_logprob": dict(zip(result.table["response_id"], result.table["sum_logprob"]))}
    print("RESULT " + json.dumps(facts), flush=True)


def tree_memory(pid: int) -> tuple[float, float]:
    """Sum of PSS and of RSS (MiB) of a process and all its descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    pss = rss = 0
    for process in processes:
        try:
            info = process.memory_full_info()
            pss, rss = pss + info.pss, rss + info.rss
        except psutil.Error:
            pass
    return pss / 2**20, rss / 2**20


def measure(engine: str, args) -> dict:
    """Run one engine in its own process tree; its figures and the tree's peak memory."""
    command = [sys.executable, __file__, "--engine", engine, "--pairs", str(args.pairs), "--small", str(args.small),
               "--workers", str(args.workers), "--seed", str(args.seed)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = {"pss": 0.0, "rss": 0.0}

    def sample():
        while child.poll() is None:
            pss, rss = tree_memory(child.pid)
            peak["pss"], peak["rss"] = max(peak["pss"], pss), max(peak["rss"], rss)
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = child.communicate()
    sampler.join()
    if child.returncode != 0:
        sys.exit(f"benchmark: the {engine} run failed (exit {child.returncode})")
    facts = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[len("RESULT "):])
    return {**facts, "peak_pss_mib": peak["pss"], "peak_rss_mib": peak["rss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100, help="pairs of the measured run (default 100)")
    parser.add_argument("--small", type=int, default=20, help="pairs of the first run, for the time per response at the margin (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="Ray workers (default 2: this machine's cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=("local", "ray"), help=argparse.SUPPRESS)  # the child process's mode
    args = parser.parse_args()
    if args.engine:
        _engine(args)
        return

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    local, ray = measure("local", args), measure("ray", args)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    n_small, n_large = local["small"]["responses"], local["large"]["responses"]
    assert (ray["small"]["responses"], ray["large"]["responses"]) == (n_small, n_large), "both engines score the same responses"
    differences = [abs(ray["large"]["sum_logprob"][key] - value) for key, value in local["large"]["sum_logprob"].items()]
    lines = {}
    for name, facts in (("local", local), ("ray", ray)):
        margin = (facts["large"]["seconds"] - facts["small"]["seconds"]) / (n_large - n_small)
        wall = facts["load_s"] + facts["large"]["seconds"]
        lines[name] = (wall - margin * n_large, margin)  # fixed seconds, seconds per response
        print(f"{name:>5}: {args.pairs} pairs = {n_large} responses in {wall:7.1f} s wall "
              f"(start/load {facts['load_s']:.1f} s + run {facts['large']['seconds']:.1f} s; {args.small} pairs: {facts['small']['seconds']:.1f} s); "
              f"margin {1000 * margin:6.1f} ms/response, fixed {lines[name][0]:6.1f} s; "
              f"peak memory of the process tree: PSS {facts['peak_pss_mib']:,.0f} MiB, RSS {facts['peak_rss_mib']:,.0f} MiB", flush=True)
    worker_margin = (ray["large"]["worker_compute_s"] - ray["small"]["worker_compute_s"]) / (n_large - n_small)
    overhead = lines["ray"][1] - worker_margin / args.workers
    (fixed_local, margin_local), (fixed_ray, margin_ray) = lines["local"], lines["ray"]
    print(f"ray workers' own scoring time: {1000 * worker_margin:.1f} ms/response per worker ({args.workers} workers, 1 thread each)")
    print(f"max |sum_logprob ray - local| over {len(differences)} responses: {max(differences):.2e} nats")
    print(f"ray_wall_ratio={(fixed_ray + margin_ray * n_large) / (fixed_local + margin_local * n_large):.2f}")
    print(f"ray_peak_pss_ratio={ray['peak_pss_mib'] / local['peak_pss_mib']:.2f}")
    print(f"ray_fixed_extra_s={fixed_ray - fixed_local:.1f}")
    print(f"ray_overhead_ms_per_response={1000 * overhead:.1f}")
    if fixed_ray <= fixed_local:  # Ray's start cannot cost less than one model load: the load changed between the phases
        print("break_even_responses_here=n/a (Ray's fixed cost came out below the single process's: the load changed between the runs; re-run on quiet cores)")
        return
    if margin_ray < margin_local:
        print(f"break_even_responses_here={(fixed_ray - fixed_local) / (margin_local - margin_ray):.0f}")
    else:
        print("break_even_responses_here=none (on these shared cores a Ray response costs more than a local one)")
    for workers in (2, 8):  # W workers each as fast as the single process (W GPUs), with the overhead measured here
        gain = margin_local - (margin_local / workers + overhead)
        found = f"{(fixed_ray - fixed_local) / gain:.0f}" if gain > 0 else "none"
        print(f"break_even_responses_projected_{workers}_gpus={found}")


if __name__ == "__main__":
    main()
