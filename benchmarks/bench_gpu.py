"""Benchmark: the scorer on a GPU with a randomly initialised Llama-3.1-8B-shaped model in bfloat16: tokens/s, naive, MFU.

    .venv/bin/python benchmarks/bench_gpu.py                 # on a CUDA machine (an H100 is the target)
    .venv/bin/python benchmarks/bench_gpu.py --tiny          # smoke check anywhere (CPU): a tiny config, few pairs

Weights do not change the speed and real weights cannot travel to a lent GPU, so the model is
Llama-3.1-8B's shape (32 layers, hidden 4096, MLP 14336, 32 query / 8 key-value heads,
vocabulary 128,256, untied output layer) with random weights, saved once to a temporary folder
and loaded through the project's own `load_backend` (the user's path). The tokenizer is a
word-level one made on the spot (one token per synthetic word), so every prompt and response
has exactly the token length drawn for it. Two workloads, shaped like the real data:
- hh-rlhf: two responses per prompt; prompts and responses log-normal in length;
- helpsteer: two responses per prompt, short prompts and long responses (HelpSteer2's shape).
For each: tokens/s of the scorer (all responses) and of the naive loop (one sequence at a time,
full logits; on `--naive-responses` of them, rate compared per position), and model-FLOPs
utilisation = the scorer's counted work (arithmetic.py: body per distinct context token and
response token, output layer per response token) / time / the bf16 matmul rate measured in
the same run on the same shapes. Exactness: a small config in float32, scorer against naive,
max |mean_logprob difference| <= 1e-4. Last lines: `gpu_speedup_vs_naive=` and `gpu_mfu=`
(of the hh-rlhf workload).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from arithmetic import ModelShape, measure_rates, naive_work, scorer_work  # noqa: E402
from workload import ROOT  # noqa: E402

sys.path.insert(0, str(ROOT))
from typicality.data import PreferenceData  # noqa: E402
from typicality.scoring import load_backend, naive_score, score  # noqa: E402

# Llama-3.1-8B's shape (its config.json), and a tiny one for smoke checks and the float32 exactness run.
LLAMA_8B = dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=8, vocab_size=128256, max_position_embeddings=131072, rope_theta=500000.0,
                rms_norm_eps=1e-5, tie_word_embeddings=False)
SMALL = dict(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=8,
             num_key_value_heads=2, vocab_size=8192, max_position_embeddings=4096, rope_theta=500000.0,
             rms_norm_eps=1e-5, tie_word_embeddings=False)
TINY = dict(SMALL, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, vocab_size=2048)
EXACT = 1e-4


@dataclass(frozen=True)
class Shape:
    """A dataset's length profile in tokens: log-normal with this median and log-sd, clipped."""

    name: str
    responses_per_prompt: int
    prompt_median: float
    prompt_sigma: float
    response_median: float
    response_sigma: float
    longest: int = 2048


# Medians and log-sds measured with the Gemma 3 tokenizer on the local copies (300 HH-RLHF
# helpful-base test prompts; HelpSteer2's first 100 training rows): HH-RLHF's prompts are
# multi-turn dialogues with short answers, HelpSteer2's prompts are short with long answers.
HH_RLHF = Shape("hh-rlhf", 2, 103, 1.07, 32, 0.95)
HELPSTEER = Shape("helpsteer", 2, 19, 1.38, 282, 0.72)


def word_tokenizer(vocab_size: int):
    """A word-level tokenizer: 'w<i>' is token i; so a text's token length is its word count."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    special = ["<pad>", "<bos>", "<unk>"]
    vocab = {token: index for index, token in enumerate(special)}
    vocab.update({f"w{index}": index for index in range(len(special), vocab_size)})
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", pad_token="<pad>", unk_token="<unk>")


def synthetic_data(shape: Shape, prompts: int, vocab_size: int, seed: int = 0) -> PreferenceData:
    """Random-word prompts and responses with the shape's length profile, as a PreferenceData."""
    rng = np.random.default_rng(seed)

    def words(median: float, sigma: float) -> str:
        length = int(np.clip(rng.lognormal(np.log(median), sigma), 1, shape.longest))
        return " ".join(f"w{i}" for i in rng.integers(3, vocab_size, size=length))

    responses, comparisons = [], []
    for p in range(prompts):
        prompt = words(shape.prompt_median, shape.prompt_sigma)
        ids = [f"r{p}-{k}" for k in range(shape.responses_per_prompt)]
        for response_id in ids:
            responses.append({"prompt_id": f"p{p}", "prompt": prompt, "response_id": response_id,
                              "response": " " + words(shape.response_median, shape.response_sigma)})
        comparisons += [{"prompt_id": f"p{p}", "response_a": a, "response_b": b, "label": 1.0}
                        for i, a in enumerate(ids) for b in ids[i + 1:]]
    return PreferenceData(name=shape.name, responses=pd.DataFrame(responses), comparisons=pd.DataFrame(comparisons))


def random_checkpoint(folder: Path, sizes: dict, dtype: torch.dtype, device: str) -> Path:
    """A randomly initialised Llama of these sizes, saved with the word tokenizer (built on `device`: fast on a GPU)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**sizes, bos_token_id=1, eos_token_id=1, pad_token_id=0)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    model.save_pretrained(folder)
    word_tokenizer(sizes["vocab_size"]).save_pretrained(folder)
    del model
    return folder


def counts_of(data: PreferenceData, tokenizer) -> tuple[list[int], list[tuple[int, int]]]:
    """Distinct context lengths and (context, response) lengths, with BOS (word tokens: no boundary merges)."""
    contexts, responses = {}, []
    for prompt, response in zip(data.responses["prompt"], data.responses["response"]):
        context = 1 + len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        contexts[prompt] = context
        responses.append((context, len(tokenizer(response, add_special_tokens=False)["input_ids"])))
    return list(contexts.values()), responses


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_workload(backend, data: PreferenceData, shape_of_model: ModelShape, rate, naive_responses: int, batch_tokens: int, device: str) -> dict:
    contexts, responses = counts_of(data, backend.tokenizer)
    work = scorer_work(shape_of_model, contexts, responses)
    positions = sum(c + n for c, n in responses)
    with tempfile.TemporaryDirectory() as cache_dir:
        # check=False: the synthetic word tokenizer cannot spell the pre-flight check's texts (emoji, CJK); exactness is checked below.
        score(data.limit(1), backend, cache_dir=Path(cache_dir) / "warm-up", progress=False, bos="always", check=False)
        synchronize(device)
        tick = time.perf_counter()
        result = score(data, backend, batch_tokens=batch_tokens, cache_dir=cache_dir, progress=False, bos="always", check=False)
        synchronize(device)
        seconds = time.perf_counter() - tick
    pairs = list(zip(data.responses["prompt"], data.responses["response"]))[:naive_responses]
    naive_score(backend.model, backend.tokenizer, "w5", " w6")  # warm-up
    synchronize(device)
    tick = time.perf_counter()
    naive = [naive_score(backend.model, backend.tokenizer, p, r) for p, r in pairs]
    synchronize(device)
    naive_seconds = time.perf_counter() - tick
    naive_positions = sum(c + n for c, n in responses[: len(pairs)])
    differences = [abs(a - b["mean_logprob"]) for a, b in zip(result.table["mean_logprob"], naive)]
    return {
        "responses": len(responses),
        "positions": positions,
        "seconds": seconds,
        "tokens_per_s": positions / seconds,
        "naive_tokens_per_s": naive_positions / naive_seconds,
        "mfu": work.floor_seconds(rate) / seconds,
        "tflop": work.total_flops / 1e12,
        "naive_arithmetic": naive_work(shape_of_model, responses).total_flops / work.total_flops,
        "max_difference_vs_naive": max(differences),  # bf16: for scale only; exactness is the float32 check
    }


def exactness(folder: Path, device: str, prompts: int) -> float:
    """Max |mean_logprob scorer - naive| of a small float32 model on the hh-rlhf shape."""
    backend = load_backend(str(folder), device=device, dtype="float32", bos="always", progress=False)
    data = synthetic_data(HH_RLHF, prompts, SMALL["vocab_size"], seed=1)
    with tempfile.TemporaryDirectory() as cache_dir:
        result = score(data, backend, cache_dir=cache_dir, progress=False, check=False)
    naive = [naive_score(backend.model, backend.tokenizer, p, r) for p, r in zip(data.responses["prompt"], data.responses["response"])]
    return max(abs(a - b["mean_logprob"]) for a, b in zip(result.table["mean_logprob"], naive))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="smoke check: a tiny model, a few prompts, on CPU unless --device")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--prompts", type=int, default=None, help="prompts per workload (default 512; 6 with --tiny)")
    parser.add_argument("--naive-responses", type=int, default=None, help="responses the naive loop runs (default 128; 4 with --tiny)")
    parser.add_argument("--batch-tokens", type=int, default=16384, help="the scorer's batch budget (default 16384)")
    args = parser.parse_args()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = TINY if args.tiny else LLAMA_8B
    prompts = args.prompts or (6 if args.tiny else 512)
    naive_responses = args.naive_responses or (4 if args.tiny else 128)
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; model: {'tiny' if args.tiny else 'Llama-3.1-8B'}-shaped, random weights, bfloat16")
    if not args.tiny and not device.startswith("cuda"):
        print("note: the full-size run on a CPU takes hours; use --tiny for a smoke check")

    with tempfile.TemporaryDirectory() as folder:
        tick = time.perf_counter()
        checkpoint = random_checkpoint(Path(folder) / "model", sizes, torch.bfloat16, device)
        backend = load_backend(str(checkpoint), device=device, dtype="bfloat16", bos="always", progress=False)
        print(f"random checkpoint written and loaded in {time.perf_counter() - tick:.0f} s")
        shape = ModelShape.of(backend.model.config)
        rates = [measure_rates(shape, dtype=torch.bfloat16, device=device, tokens=4096 if not args.tiny else 256, rows=512)]
        rows = {}
        for workload in (HH_RLHF, HELPSTEER):
            data = synthetic_data(workload, prompts, sizes["vocab_size"])
            rate = rates[-1]
            rows[workload.name] = run_workload(backend, data, shape, rate, naive_responses, args.batch_tokens, device)
            rates.append(measure_rates(shape, dtype=torch.bfloat16, device=device, tokens=4096 if not args.tiny else 256, rows=512))
        del backend
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        small = random_checkpoint(Path(folder) / "small", SMALL, torch.float32, device)
        worst = exactness(small, device, prompts=4 if args.tiny else 32)

    output_rate = statistics.median(r.output for r in rates)
    body_rate = statistics.median(r.body for r in rates)
    print(f"bf16 matmul rate (median of {len(rates)}): output layer {output_rate / 1e12:.2f} TFLOP/s, body {body_rate / 1e12:.2f} TFLOP/s")
    print(f"{'workload':<10} {'responses':>9} {'positions':>10} {'scorer tok/s':>12} {'naive tok/s':>11} {'speedup':>7} {'MFU':>6} {'bf16 |d| vs naive':>17}")
    for workload, row in rows.items():
        print(f"{workload:<10} {row['responses']:>9} {row['positions']:>10,} {row['tokens_per_s']:>12,.0f} {row['naive_tokens_per_s']:>11,.0f} "
              f"{row['tokens_per_s'] / row['naive_tokens_per_s']:>7.2f} {row['mfu']:>6.1%} {row['max_difference_vs_naive']:>17.2e}")
    verdict = "ok" if worst <= EXACT else f"FAIL (> {EXACT})"
    print(f"exactness (small config, float32, {device}): max |mean_logprob scorer - naive| = {worst:.2e} ({verdict})")
    hh = rows[HH_RLHF.name]
    print(f"gpu_speedup_vs_naive={hh['tokens_per_s'] / hh['naive_tokens_per_s']:.2f}")
    print(f"gpu_mfu={hh['mfu']:.3f}")


if __name__ == "__main__":
    main()
