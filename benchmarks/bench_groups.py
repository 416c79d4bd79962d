"""`fit --by annotator` at the size of the largest public per-annotator sets: 384,000 pairs, 3,500 annotators.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_groups.py            # prints wall times and the peak memory
    PYTHONPATH=. .venv/bin/python benchmarks/bench_groups.py --pairs 60000 --groups 500   # a quick look

The data: `typicality.simulate(0.8, pairs / 6 prompts, 4 responses, groups=3500, group_sd=0.2)`
(every annotator judges every pair of its own prompts, about 110 pairs each). The fit:
`analyze(..., by="annotator", slices=["all"], controls=["correctness"])`, i.e.
`typicality fit DIR --slice all --controls correctness --by annotator`: the adjusted fit on all
pairs (mean and summed typicality, the not-memorized row, the alpha-change bootstrap, ...) and
then the per-annotator fits with partial pooling. Peak memory is the process's peak resident
set (ru_maxrss), simulation included.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from typicality.stats import analyze, build_pairs, simulate
from typicality.stats.groups import fit_groups
from typicality.stats.pairwise_logit import PairwiseSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=384_000)
    parser.add_argument("--groups", type=int, default=3_500)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    start = time.perf_counter()
    data, scores = simulate(0.8, args.pairs // 6, 4, seed=0, groups=args.groups, group_sd=0.2)
    simulated = time.perf_counter() - start
    start = time.perf_counter()
    results = analyze(data, scores, by="annotator", slices=["all"], controls=["correctness"])
    fitted = time.perf_counter() - start
    groups = results.groups
    # The per-group step alone (stage 1 for every annotator, then stage 2), on the same design.
    design = build_pairs(data, scores)
    start = time.perf_counter()
    fit_groups(design, "annotator", PairwiseSpec.of(results.headline_estimate), results.headline.estimate)
    grouped = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"{len(data.comparisons):,} pairs, {args.groups:,} annotators (load average {load:.1f} at the start, {os.cpu_count()} CPUs)")
    print(f"simulate: {simulated:.1f} s; analyze with --by: {fitted:.1f} s (of which the per-annotator fits and pooling: {grouped:.1f} s)")
    print(f"peak memory (resident): {peak_gb:.2f} GB")
    print(groups.summary())


if __name__ == "__main__":
    main()
