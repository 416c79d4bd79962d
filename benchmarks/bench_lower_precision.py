"""Trial: lower precision on this CPU (bfloat16 on AMX, weight-only int8) against float32, on a few real pairs.

    .venv/bin/python benchmarks/bench_lower_precision.py [--pairs 16] [--scorer-only]

A measurement, not a feature: a scheme would be kept only if it bought >= 1.5x with
max |delta mean_logprob| <= 0.01 against float32. The work splits where the schemes differ:
- the body (all layers), run once per response over prompt + response, in float32, in
  bfloat16 (a bfloat16 copy of the model; matmuls on the CPU's AMX tiles through oneDNN), or
  "mixed": bfloat16 matmuls (autocast) with float32 embeddings, norms and residual stream;
- the output layer at the positions that predict response tokens, then log-softmax in float32:
  float32 (the reference, weight @ hidden.T as the scorer runs it), bfloat16 (logits rounded to
  bfloat16), bfloat16 with the target's and the top-64 logits recomputed in float32, or
  weight-only int8 (per-row scales, `aten._weight_int8pack_mm`, activations in bfloat16).
Each part is timed on its own (median of `--repeats`), so every combination's time and its
scores' distance from float32 follow. Also the project's own `--dtype bfloat16` (the default on
a GPU) end to end through `typicality.scoring.score`, against float32, in the same run: wall
time and the score cards' tokens/s (`--scorer-only`: just this part); and bfloat16 packed (a
prompt's responses in one row, the default) against one response per row, in the same run.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from arithmetic import ModelShape, measure_rates  # noqa: E402
from workload import hh_rlhf, joint_tokens, text_pairs  # noqa: E402

from typicality.scoring import load_backend, score  # noqa: E402
from typicality.scoring.transformers_backend import packing_tolerance  # noqa: E402

KEEP_SPEEDUP, KEEP_DIFFERENCE = 1.5, 0.01


def sequences(tokenizer, pairs):
    """(token ids with BOS, index of the first response token) per response, by the common-prefix rule."""
    return [joint_tokens(tokenizer, prompt, response) for prompt, response in pairs]


def body_states(model, items, dtype) -> tuple[list[torch.Tensor], float]:
    """Final hidden states at the positions that predict response tokens, and the seconds it took."""
    states = []
    tick = time.perf_counter()
    with torch.inference_mode():
        for ids, cut in items:
            hidden = model.base_model(input_ids=torch.tensor([ids])).last_hidden_state[0]
            states.append(hidden[cut - 1 : len(ids) - 1].to(dtype))
    return states, time.perf_counter() - tick


def softcapped(logits: torch.Tensor, softcap: float | None) -> torch.Tensor:
    return logits.div(softcap).tanh().mul(softcap) if softcap else logits


def head_scores(head, states, items, softcap) -> tuple[list[float], float]:
    """Mean log-likelihood per response from an output-layer function `head(hidden, targets) -> logprobs`, and the seconds."""
    means = []
    tick = time.perf_counter()
    with torch.inference_mode():
        for hidden, (ids, cut) in zip(states, items):
            logprobs = head(hidden, torch.tensor(ids[cut:]), softcap)
            means.append(float(logprobs.double().mean()))
    return means, time.perf_counter() - tick


def from_logits(logits_of):
    """A head that computes all logits with `logits_of(hidden)`, then log-softmax in float32."""

    def head(hidden, targets, softcap):
        logits = softcapped(logits_of(hidden).float(), softcap)
        return torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).squeeze(1)

    return head


def bf16_with_exact_top(weight: torch.Tensor, weight_bf16: torch.Tensor, k: int = 64):
    """bfloat16 logits (fast on AMX, but rounded to 8 bits of mantissa), with the target's and the
    top-k logits recomputed in float32: the rounding then only touches the tail of the softmax sum,
    where independent errors of +-0.2% on small terms mostly cancel."""

    def head(hidden, targets, softcap):
        hidden32 = hidden.float()
        logits = softcapped(torch.matmul(weight_bf16, hidden32.to(torch.bfloat16).t()).t().float(), softcap)
        top = logits.topk(k, dim=1).indices
        exact_top = softcapped(torch.einsum("nh,nkh->nk", hidden32, weight[top]), softcap)
        logits.scatter_(1, top, exact_top)
        exact_target = softcapped((hidden32 * weight[targets]).sum(-1), softcap)
        return exact_target - torch.logsumexp(logits, dim=1)

    return head


class MatmulsInBfloat16(torch.nn.Module):
    """The body with its linear layers' weights in bfloat16, run under CPU autocast: every matmul on
    AMX in bfloat16, while the embeddings, the norms and the residual stream stay float32 (a norm's
    float32 output meets a bfloat16 layer output in the residual sum, which promotes to float32)."""

    def __init__(self, model):
        super().__init__()
        self.model = copy.deepcopy(model).eval()
        head = self.model.get_output_embeddings()
        for module in self.model.modules():
            if isinstance(module, torch.nn.Linear) and module is not head:
                module.weight.data = module.weight.data.to(torch.bfloat16)
        self.base_model = self

    def forward(self, **inputs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model.base_model(**inputs)


def int8_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8 weights and their scales (each output row keeps its own range)."""
    scales = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
    return torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8), scales


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=16, help="HH-RLHF pairs (default 16)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per part; medians used (default 3)")
    parser.add_argument("--scorer-only", action="store_true", help="only the scorer end to end, float32 against --dtype bfloat16")
    args = parser.parse_args()

    data = hh_rlhf(args.pairs)
    if args.scorer_only:
        scorer_end_to_end(data, load_backend("gemma-3-270m", device="cpu", progress=False), args.repeats)
        return
    pairs = text_pairs(data)
    backend = load_backend("gemma-3-270m", device="cpu", progress=False)
    model = backend.model
    items = sequences(backend.tokenizer, pairs)
    text_config = model.config.get_text_config()
    softcap = getattr(text_config, "final_logit_softcapping", None)
    shape = ModelShape.of(model.config)
    fp32 = measure_rates(shape, torch.float32)
    bf16 = measure_rates(shape, torch.bfloat16)
    print(f"matmul rates now: float32 output {fp32.output / 1e9:.0f} / body {fp32.body / 1e9:.0f} GFLOP/s; "
          f"bfloat16 output {bf16.output / 1e9:.0f} / body {bf16.body / 1e9:.0f} GFLOP/s")
    print(f"workload: {args.pairs} pairs, {len(items)} responses, {sum(len(i) for i, _ in items):,} positions, "
          f"{sum(len(i) - c for i, c in items):,} response tokens")

    model_bf16 = copy.deepcopy(model).to(torch.bfloat16).eval()
    model_mixed = MatmulsInBfloat16(model)
    weight = model.get_output_embeddings().weight.detach()
    weight_bf16 = weight.to(torch.bfloat16)
    weight_int8, scales = int8_rows(weight)
    heads = {
        "float32": from_logits(lambda h: torch.matmul(weight, h.float().t()).t()),
        "bfloat16": from_logits(lambda h: torch.matmul(weight_bf16, h.to(torch.bfloat16).t()).t()),
        "bf16+top64": bf16_with_exact_top(weight, weight_bf16),
        "int8 weights": from_logits(lambda h: torch.ops.aten._weight_int8pack_mm(h.to(torch.bfloat16), weight_int8, scales.to(torch.bfloat16))),
    }

    median = statistics.median
    body = {}
    for name, body_model in (("float32", model), ("bfloat16", model_bf16), ("mixed", model_mixed)):
        body_states(body_model, items[:1], torch.float32)  # warm-up: first-call costs are not the scheme's
        runs = [body_states(body_model, items, torch.float32) for _ in range(args.repeats)]
        body[name] = (runs[0][0], median(seconds for _, seconds in runs))
    head = {}
    for name, function in heads.items():
        for body_name, (states, _) in body.items():
            head_scores(function, states[:1], items[:1], softcap)  # warm-up
            runs = [head_scores(function, states, items, softcap) for _ in range(args.repeats)]
            head[(body_name, name)] = (runs[0][0], median(seconds for _, seconds in runs))

    reference, _ = head[("float32", "float32")]
    base_seconds = body["float32"][1] + head[("float32", "float32")][1]
    print(f"\n{'body':<9} {'output layer':<13} {'body s':>7} {'head s':>7} {'speedup':>7} {'max |d mean_logprob|':>21} {'mean |d|':>9}  verdict")
    for (body_name, head_name), (means, head_seconds) in head.items():
        seconds = body[body_name][1] + head_seconds
        differences = [abs(a - b) for a, b in zip(means, reference)]
        speedup = base_seconds / seconds
        keep = speedup >= KEEP_SPEEDUP and max(differences) <= KEEP_DIFFERENCE
        verdict = "reference" if (body_name, head_name) == ("float32", "float32") else ("would keep" if keep else "not kept")
        print(
            f"{body_name:<9} {head_name:<13} {body[body_name][1]:7.1f} {head_seconds:7.1f} "
            f"{speedup:7.2f} {max(differences):21.2e} {statistics.mean(differences):9.1e}  {verdict}"
        )

    del model_bf16, model_mixed
    scorer_end_to_end(data, backend, args.repeats)


def scorer_end_to_end(data, backend, repeats: int) -> None:
    """The project's `--dtype bfloat16` end to end through the scorer against float32: wall time, the
    score cards' tokens/s (token positions per second of compute) and the scores' distance; and
    bfloat16 with its prompts' responses packed into one row (the default, when the packing check
    passes) against one response per row (`share_contexts=False`), which was all bfloat16 got while
    the check held it to float32's tolerance."""
    bfloat16 = load_backend("gemma-3-270m", device="cpu", dtype="bfloat16", progress=False)
    backends = {"float32": backend, "bfloat16": bfloat16, "bfloat16 unpacked": bfloat16.configured(share_contexts=False)}
    seconds: dict[str, list[float]] = {name: [] for name in backends}
    rates: dict[str, list[float]] = {name: [] for name in backends}
    means, sums, sharing = {}, {}, {}
    for _ in range(repeats):  # interleaved, so a change in the machine's load hits all alike
        for name, scorer_backend in backends.items():
            with tempfile.TemporaryDirectory() as cache_dir:
                score(data.limit(1), scorer_backend, cache_dir=Path(cache_dir) / "warm-up", progress=False)
                tick = time.perf_counter()
                result = score(data, scorer_backend, cache_dir=cache_dir, progress=False)
                seconds[name].append(time.perf_counter() - tick)
                rates[name].append(result.card.tokens_per_s)
                means[name] = result.table["mean_logprob"].tolist()
                sums[name] = (result.table["sum_logprob"].tolist(), result.table["n_tokens"].tolist())
                sharing[name] = result.card.context_sharing
    median = statistics.median
    for name in backends:
        print(f"  {name}: {', '.join(f'{s:.1f}' for s in seconds[name])} s; context_sharing: {sharing[name]}")
    differences = [abs(a - b) for a, b in zip(means["float32"], means["bfloat16"])]
    speedup = median(seconds["float32"]) / median(seconds["bfloat16"])
    rate_ratio = median(rates["bfloat16"]) / median(rates["float32"])
    print(f"\nscorer end to end (median of {repeats}, interleaved): float32 {median(seconds['float32']):.1f} s "
          f"({median(rates['float32']):.0f} tokens/s), --dtype bfloat16 {median(seconds['bfloat16']):.1f} s "
          f"({median(rates['bfloat16']):.0f} tokens/s): {speedup:.2f}x wall, {rate_ratio:.2f}x tokens/s; "
          f"|d mean_logprob| max {max(differences):.2e}, mean {statistics.mean(differences):.2e} over {len(differences)} responses")
    packing = [abs(a - b) for a, b in zip(means["bfloat16"], means["bfloat16 unpacked"])]

    def per_token(first: str, second: str) -> float:
        """Sum of |delta sum_logprob| over all tokens: weighted by length, so a short response whose one
        token rounds the other way does not dominate as it does the max of the per-response means."""
        (totals, tokens), (others, _) = sums[first], sums[second]
        return sum(abs(a - b) for a, b in zip(totals, others)) / sum(tokens)

    packing_speedup = median(seconds["bfloat16 unpacked"]) / median(seconds["bfloat16"])
    print(f"bfloat16 packed {median(seconds['bfloat16']):.1f} s against one response per row {median(seconds['bfloat16 unpacked']):.1f} s: "
          f"{packing_speedup:.2f}x wall; |d mean_logprob| max {max(packing):.2e}, mean {statistics.mean(packing):.2e} "
          f"(packing check: {bfloat16._packing_deviation():.3g} of the largest hidden state, tolerance {packing_tolerance(bfloat16.torch_dtype):.3g})")
    print(f"weighted by length, nats per token: bfloat16 packed vs one per row {per_token('bfloat16', 'bfloat16 unpacked'):.2e}; "
          f"against float32: packed {per_token('bfloat16', 'float32'):.2e}, one per row {per_token('bfloat16 unpacked', 'float32'):.2e}")
    print(f"lower_precision_scorer_bf16_speedup={speedup:.2f}")
    print(f"lower_precision_scorer_bf16_tokens_per_s_ratio={rate_ratio:.2f}")
    print(f"lower_precision_scorer_bf16_max_difference={max(differences):.3g}")
    print(f"lower_precision_scorer_bf16_packing_speedup={packing_speedup:.2f}")
    print(f"lower_precision_scorer_bf16_packing_max_difference={max(packing):.3g}")


if __name__ == "__main__":
    main()
