"""Agreement: the transformers scorer, vLLM in-process (`vllm:gemma-3-270m`) and a vLLM server, on the same real pairs, in float32.

    .venv-vllm/bin/python benchmarks/bench_vllm_agreement.py [--pairs 40] [--seed 0] [--compiled]

Runs in the vLLM virtualenv (`make install-vllm`), where the transformers backend runs too.
The same HH-RLHF helpful-base pairs as bench_scoring.py (`workload.hh_rlhf`) are scored three
ways with the embedded Gemma 3 270M's converted float32 checkpoint:
- `transformers`: the project's scorer (`--model gemma-3-270m`);
- `vllm`: vLLM's engine in this process on the project's token ids (`--model vllm:gemma-3-270m`);
- `served`: `vllm serve` on 127.0.0.1, scored through the endpoint backend (`openai:URL#MODEL`):
  the server tokenizes, with its own BOS, and the response is cut out of its echo.
For each pair of methods it prints, over the responses, how many have the same token count and
the max and mean |difference| of the mean log-likelihood (nats per token), and the response
with the largest difference, so a disagreement can be traced to a BOS or a boundary.
Both vLLM engines run eager (`--enforce-eager`; a start in about a minute) unless `--compiled`
(vLLM's default torch.compile: several minutes to start on 2 cores). The last line is
`max_abs_difference_nats_per_token=` (the largest over the three comparisons).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workload import ROOT, hh_rlhf  # noqa: E402

sys.path.insert(0, str(ROOT))

from tests.scoring.vllm_server import SERVED_NAME, VLLMServer  # noqa: E402
from typicality.scoring import load_backend, score  # noqa: E402
from typicality.scoring.checkpoints import embedded_checkpoint  # noqa: E402

TOLERANCE = 1e-3  # nats per token, per response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40, help="HH-RLHF pairs (comparisons) to score (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pair sample (default 0)")
    parser.add_argument("--compiled", action="store_true", help="vLLM's default torch.compile instead of eager (slow to start)")
    args = parser.parse_args()
    data = hh_rlhf(args.pairs, seed=args.seed)
    eager = not args.compiled
    print(f"workload: {len(data.comparisons)} HH-RLHF helpful-base pairs (seed {args.seed}), {len(data.responses)} responses; "
          f"vLLM {'eager' if eager else 'compiled'}, float32, prefix caching off")

    tables = {}
    with tempfile.TemporaryDirectory() as cache:
        tables["transformers"] = timed("transformers", lambda: score(data, "gemma-3-270m", cache_dir=cache, progress=False))
        tick = time.perf_counter()
        engine = load_backend("vllm:gemma-3-270m", enforce_eager=eager, progress=False)
        print(f"vllm in-process: engine started in {time.perf_counter() - tick:.0f} s")
        tables["vllm"] = timed("vllm", lambda: score(data, engine, cache_dir=cache, progress=False))
        engine.close()
        with tempfile.TemporaryDirectory() as logs:
            server = VLLMServer(embedded_checkpoint(progress=False), Path(logs) / "server.log", eager=eager).start()
            try:
                print(f"vllm serve: ready in {server.start_seconds:.0f} s")
                spec = f"openai:{server.url}#{SERVED_NAME}"
                tables["served"] = timed("served", lambda: score(data, spec, cache_dir=cache, progress=False, concurrency=4))
            finally:
                server.stop()

    worst = 0.0
    for first, second in itertools.combinations(tables, 2):
        a = tables[first].set_index("response_id")
        b = tables[second].set_index("response_id").loc[a.index]
        same = int((a["n_tokens"] == b["n_tokens"]).sum())
        difference = (a["mean_logprob"] - b["mean_logprob"]).abs()
        where = difference.idxmax()
        worst = max(worst, float(difference.max()))
        verdict = "ok" if difference.max() <= TOLERANCE else f"OVER {TOLERANCE:g}"
        print(
            f"{first} vs {second}: token counts equal on {same}/{len(a)} responses; |mean_logprob difference| "
            f"max {difference.max():.2e}, mean {difference.mean():.2e}, median {difference.median():.2e} nats/token ({verdict}); "
            f"largest on a response of {a.loc[where, 'n_tokens']} tokens (boundary_merged {bool(a.loc[where, 'boundary_merged'])})"
        )
    print(f"max_abs_difference_nats_per_token={worst:.2e}")


def timed(name: str, run):
    tick = time.perf_counter()
    result = run()
    table = result.table
    assert table["skipped"].isna().all(), table[table["skipped"].notna()]
    positions = result.card.tokens_per_s
    print(f"{name}: scored {len(table)} responses in {time.perf_counter() - tick:.1f} s (card: {positions} tokens/s of compute)")
    return table


if __name__ == "__main__":
    main()
