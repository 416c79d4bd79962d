"""Benchmark: an audit whose scores are all cached, on 10,000 simulated pairs: time in fit and report.

    .venv/bin/python benchmarks/bench_cached_audit.py [--pairs 10000] [--repeats 3]

`typicality simulate` writes a rated dataset with its scores already computed (two responses per
prompt, one pair each; ratings on a 5-level scale like HelpSteer's 0-4), so nothing is scored; then `typicality fit` and
`typicality report` run on it as a user runs them, each a fresh process (start-up and imports
included). Prints the median of `--repeats` runs of each and `cached_fit_report_seconds=`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(*arguments: str) -> float:
    """Seconds of one `typicality ...` command, from this checkout (as the installed `typicality` script runs it)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    tick = time.perf_counter()
    subprocess.run([sys.executable, "-m", "typicality.cli", *arguments], check=True, stdout=subprocess.DEVNULL, env=environment)
    return time.perf_counter() - tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000, help="simulated pairs (prompts with two responses; default 10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of fit and of report; medians printed (default 3)")
    parser.add_argument("--rating-levels", type=int, default=5, help="rating scale levels, like HelpSteer's 0-4 (default 5; 0: continuous)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        audit = str(Path(folder) / "simulated")
        simulate = timed("simulate", "--alpha", "0.5", "--prompts", str(args.pairs), "--responses-per-prompt", "2", "--seed", "0", "--out", audit,
                         *(["--rating-levels", str(args.rating_levels)] if args.rating_levels else []))
        fit = [timed("fit", audit) for _ in range(args.repeats)]
        report = [timed("report", audit) for _ in range(args.repeats)]
    print(f"simulate {args.pairs:,} pairs: {simulate:.1f} s (not counted)")
    print(f"fit:    median {statistics.median(fit):.1f} s of " + ", ".join(f"{s:.1f}" for s in fit))
    print(f"report: median {statistics.median(report):.1f} s of " + ", ".join(f"{s:.1f}" for s in report))
    print(f"cached_fit_report_seconds={statistics.median(fit) + statistics.median(report):.1f}")


if __name__ == "__main__":
    main()
