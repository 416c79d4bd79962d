"""Benchmark: does the scorer's speed and memory stay flat as the dataset grows? tokens/s and peak RSS at two sizes.

    .venv/bin/python benchmarks/bench_growth.py [--small 40] [--large 400]

Runs the scorer (empty cache, embedded Gemma 3 270M, float32) on `--small` and on `--large`
HH-RLHF pairs, each in its own process (scoring_phases.py), so each peak RSS is its own.
tokens/s counts prompt + response positions per response, as everywhere in benchmarks/.
Goal: both within 10% of each other (the scorer streams batches into the cache, so memory
does not grow with the dataset). Prints `growth_tokens_per_s_ratio=` and `growth_peak_rss_ratio=` (large / small).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from transformers import AutoTokenizer  # noqa: E402
from workload import count_tokens, hh_rlhf, text_pairs  # noqa: E402

from typicality.scoring.checkpoints import embedded_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=40, help="pairs in the small run (default 40)")
    parser.add_argument("--large", type=int, default=400, help="pairs in the large run (default 400)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(embedded_checkpoint())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for pairs in (args.small, args.large):
            out = Path(folder) / f"scorer-{pairs}.json"
            subprocess.run(
                [sys.executable, str(HERE / "scoring_phases.py"), "scorer", "--pairs", str(pairs), "--seed", str(args.seed), "--out", str(out)],
                check=True,
            )
            phase = json.loads(out.read_text())
            counts = count_tokens(tokenizer, text_pairs(hh_rlhf(pairs, seed=args.seed)))
            rows.append((pairs, phase["responses"], counts.positions, phase["seconds"], counts.positions / phase["seconds"], phase["peak_rss_mib"]))
            print(f"{pairs:>5} pairs {phase['responses']:>5} responses {counts.positions:>8,} positions {phase['seconds']:8.1f} s "
                  f"{counts.positions / phase['seconds']:8.1f} tokens/s  peak RSS {phase['peak_rss_mib']:,.0f} MiB", flush=True)
    (_, _, _, _, small_rate, small_rss), (_, _, _, _, large_rate, large_rss) = rows
    print(f"growth_tokens_per_s_ratio={large_rate / small_rate:.2f}")
    print(f"growth_peak_rss_ratio={large_rss / small_rss:.2f}")


if __name__ == "__main__":
    main()
