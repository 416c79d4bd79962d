"""Benchmark: `typicality export` and `typicality influence` on 30,000 simulated pairs, against a one-minute budget.

    .venv/bin/python benchmarks/bench_export_influence.py [--prompts 5000] [--responses-per-prompt 4]

Simulates a rated dataset (5,000 prompts x 4 responses = 30,000 within-prompt pairs, 5,000
clusters), fits it once (`analyze`, not timed) into an audit folder, then times, each from the
folder on disk as the commands run it:
- the export (read the audit, choose alpha, refit the debiasing model, write parquet + card), and as jsonl;
- influence of the adjusted fit on all 30,000 pairs (`all|mean_logprob|correctness`): per-pair DFBETA,
  leave-one-prompt-out alphas (one-step: 5,000 prompts is above the exact limit of 3,000), CV3,
  the refit without the top 1% of prompts, influence.parquet and results.json;
- the same influence with every leave-one-prompt-out alpha refitted exactly (`--exact-max-prompts` above 5,000).
Prints seconds for each and `*_share_of_minute=` (seconds / 60; the goal is below 1), and
`exact_over_one_step=` (how much the exact jackknife costs at this size).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from typicality.audit_folder import save_analysis
from typicality.debiased_export import export
from typicality.pipeline import write_influence, write_simulation
from typicality.stats import analyze_with_design, simulate

ADJUSTED = "all|mean_logprob|correctness"


def timed(label: str, run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    print(f"{label}_seconds={seconds:.2f}")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=5000)
    parser.add_argument("--responses-per-prompt", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "audit"
        data, scores = simulate(0.5, args.prompts, args.responses_per_prompt, seed=args.seed)
        write_simulation(data, scores, folder)
        _, (results, design) = timed("analyze_untimed_setup", lambda: analyze_with_design(data, scores))
        save_analysis(results, design, folder)
        print(f"pairs={len(design)} prompts={design.frame['prompt_id'].nunique()}")

        export_seconds, exported = timed("export_parquet", lambda: export(folder, Path(root) / "export-parquet"))
        jsonl_seconds, _ = timed("export_jsonl", lambda: export(folder, Path(root) / "export-jsonl", format="jsonl"))
        print(f"export_rows={exported.n_rows} export_flips={exported.n_flips}")

        one_step_seconds, influence = timed("influence_one_step", lambda: write_influence(folder, estimate=ADJUSTED, strict=True))
        print(f"influence_pairs={influence.summary['n_pairs']} influence_prompts={influence.summary['n_prompts']} method={influence.summary['prompt_method']}")
        exact_seconds, exact = timed("influence_exact", lambda: write_influence(folder, estimate=ADJUSTED, strict=True, exact_max_prompts=10**9))
        print(f"cv3_se_one_step={influence.summary['cv3']['se']:.6f} cv3_se_exact={exact.summary['cv3']['se']:.6f} cv1_se={influence.summary['cv1_se']:.6f}")

        print(f"export_parquet_share_of_minute={export_seconds / 60:.3f}")
        print(f"export_jsonl_share_of_minute={jsonl_seconds / 60:.3f}")
        print(f"influence_one_step_share_of_minute={one_step_seconds / 60:.3f}")
        print(f"influence_exact_share_of_minute={exact_seconds / 60:.3f}")
        print(f"exact_over_one_step={exact_seconds / one_step_seconds:.2f}")


if __name__ == "__main__":
    main()
