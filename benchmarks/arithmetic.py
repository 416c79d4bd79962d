"""The arithmetic a scoring run cannot avoid, and the matmul rate this machine sustains right now.

Work is counted from the model's shapes, in multiply-adds of its linear layers (2 FLOPs each):
- the body (every layer's attention projections and MLP) once per distinct context token and
  once per response token;
- the output layer (vocabulary x hidden; 262k x 640 for Gemma 3 270M) once per response token.
Attention scores (query x key, weights x value) are left out: they grow with the context and
are a few percent here; `attention_multiply_adds` reports them separately so nobody has to guess.

The rate is measured with `torch.matmul` of the same shapes the scorer runs (the output layer
as weight @ hidden.T on 256-row chunks; the MLP's up and down projections on a block of tokens),
so `work / seconds / rate` says how close a run came to what the machine can do at that hour.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ModelShape:
    """The sizes that set a decoder's arithmetic per token."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    sliding_window: int | None = None  # local layers attend at most this far back (Gemma)
    local_fraction: float = 0.0  # share of layers that are local (sliding window)

    @classmethod
    def of(cls, config) -> "ModelShape":
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        heads = text.num_attention_heads
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
        layer_types = getattr(text, "layer_types", None) or []
        local = sum(kind == "sliding_attention" for kind in layer_types) / len(layer_types) if layer_types else 0.0
        return cls(
            hidden=text.hidden_size,
            intermediate=text.intermediate_size,
            layers=text.num_hidden_layers,
            heads=heads,
            kv_heads=getattr(text, "num_key_value_heads", None) or heads,
            head_dim=head_dim,
            vocab=text.vocab_size,
            sliding_window=getattr(text, "sliding_window", None) if local else None,
            local_fraction=local,
        )

    @property
    def body_multiply_adds_per_token(self) -> int:
        """q, k, v, o projections and the gated MLP (three matrices), summed over layers."""
        attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        mlp = 3 * self.hidden * self.intermediate
        return self.layers * (attention + mlp)

    @property
    def output_multiply_adds_per_token(self) -> int:
        return self.vocab * self.hidden

    def attention_multiply_adds(self, query_position: int) -> float:
        """Query x key and weights x value for one token at this position (0-based), all layers."""
        span_global = query_position + 1
        span_local = min(span_global, self.sliding_window) if self.sliding_window else span_global
        span = (1 - self.local_fraction) * span_global + self.local_fraction * span_local
        return 2 * self.layers * self.heads * self.head_dim * span


@dataclass(frozen=True)
class Work:
    """FLOPs of one scoring run, split where the rates differ."""

    body_flops: float
    output_flops: float
    attention_flops: float  # not in the totals below; reported for scale

    @property
    def total_flops(self) -> float:
        return self.body_flops + self.output_flops

    def floor_seconds(self, rates: "Rates") -> float:
        """The time the counted work takes at the measured matmul rates."""
        return self.body_flops / rates.body + self.output_flops / rates.output


def scorer_work(shape: ModelShape, contexts: list[int], responses: list[tuple[int, int]]) -> Work:
    """Work the scorer cannot avoid: `contexts` are the distinct contexts' lengths, `responses` (context length, response length).

    The body runs each distinct context once and each response token once; the output layer
    runs once per response token.
    """
    context_tokens = sum(contexts)
    response_tokens = sum(length for _, length in responses)
    attention = sum(shape.attention_multiply_adds(p) for n in contexts for p in range(n))
    attention += sum(shape.attention_multiply_adds(c + p) for c, n in responses for p in range(n))
    return Work(
        body_flops=2.0 * shape.body_multiply_adds_per_token * (context_tokens + response_tokens),
        output_flops=2.0 * shape.output_multiply_adds_per_token * response_tokens,
        attention_flops=2.0 * attention,
    )


def naive_work(shape: ModelShape, responses: list[tuple[int, int]]) -> Work:
    """Work of the one-sequence-at-a-time loop: body and full output layer at every position of prompt + response."""
    positions = sum(c + n for c, n in responses)
    attention = sum(shape.attention_multiply_adds(p) for c, n in responses for p in range(c + n))
    return Work(
        body_flops=2.0 * shape.body_multiply_adds_per_token * positions,
        output_flops=2.0 * shape.output_multiply_adds_per_token * positions,
        attention_flops=2.0 * attention,
    )


@dataclass(frozen=True)
class Rates:
    """Measured matmul rates: the output layer's shape and the body's, in FLOP per wall second and per CPU second.

    Per CPU second (all threads' CPU time summed) is what a busy shared machine disturbs least:
    time slices lost to other processes count in wall time but not in CPU time.
    """

    output: float
    body: float
    output_cpu: float = float("nan")
    body_cpu: float = float("nan")

    def per_cpu_second(self) -> "Rates":
        return Rates(output=self.output_cpu, body=self.body_cpu)


def matmul_seconds(left: torch.Tensor, right: torch.Tensor, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `repeats` matmuls into one preallocated output."""
    out = torch.empty(left.shape[0], right.shape[1], dtype=left.dtype, device=left.device)
    torch.matmul(left, right, out=out)  # warm-up (threads, page faults)
    walls, cpus = [], []
    for _ in range(repeats):
        _synchronize(left.device)
        tick, cpu = time.perf_counter(), time.process_time()
        torch.matmul(left, right, out=out)
        _synchronize(left.device)
        walls.append(time.perf_counter() - tick)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def measure_rates(shape: ModelShape, dtype: torch.dtype = torch.float32, device: str = "cpu", tokens: int = 2048, rows: int = 256, repeats: int = 5) -> Rates:
    """Median matmul rates for the output layer (vocab x hidden @ hidden x rows) and the MLP (tokens x hidden x intermediate)."""
    generator = torch.Generator(device="cpu").manual_seed(0)

    def random(*size: int) -> torch.Tensor:
        return torch.randn(*size, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)

    weight, hidden = random(shape.vocab, shape.hidden), random(shape.hidden, rows)
    output_wall, output_cpu = matmul_seconds(weight, hidden, repeats)
    output_flops = 2.0 * shape.vocab * shape.hidden * rows
    del weight, hidden
    states, up, down = random(tokens, shape.hidden), random(shape.hidden, shape.intermediate), random(shape.intermediate, shape.hidden)
    up_wall, up_cpu = matmul_seconds(states, up, repeats)
    inner = random(tokens, shape.intermediate)
    down_wall, down_cpu = matmul_seconds(inner, down, repeats)
    body_flops = 2.0 * 2 * tokens * shape.hidden * shape.intermediate
    median = statistics.median
    return Rates(
        output=output_flops / median(output_wall),
        body=body_flops / (median(up_wall) + median(down_wall)),
        output_cpu=output_flops / median(output_cpu),
        body_cpu=body_flops / (median(up_cpu) + median(down_cpu)),
    )


def _synchronize(device) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
