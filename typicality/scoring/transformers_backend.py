"""The transformers backend: any causal LM (embedded Gemma, hub id, local folder, .gguf) on CPU or CUDA.

Exactness first, then speed. The speed comes from these, each checked against the naive
one-sequence computation by the tests. Figures: Gemma 3 270M, float32, 40 HH-RLHF pairs,
2 CPU threads; `benchmarks/bench_ablation.py` switches each trick off in turn (the scorer's
own time divided by the time without it), `benchmarks/bench_scoring.py` measures the whole.
- A prompt runs once for all its responses: they are packed after it in one row whose
  attention mask keeps each response to its context and itself (packing.py), so every pass is
  one large batch of matmuls and no key/value cache is copied. HH-RLHF's chosen and rejected
  share a prompt: the body runs 10.5k positions instead of 16.6k. 1.36x against one response
  per row; about 1.15x against the earlier design (the prompts' cache built in a first pass,
  copied for the responses' second pass).
- The output layer (262k tokens wide for Gemma, 41% of the arithmetic) runs only at the
  positions that predict response tokens (the naive loop runs it at all 16.6k positions: 2.5x
  the scorer's arithmetic in all), in chunks of 256 rows, as weight @ hidden.T into one reused
  float32 buffer on CPU (MKL runs that orientation 1.1-1.5x faster, and a fresh 256 MiB array
  per chunk costs page faults).
- Its log-softmax, in float32, is shifted by each row's target logit rather than its maximum:
  one pass less over 262k logits a row, 1.04x.
- On CPU, freed memory stays in the process while scoring rather than going back to the
  kernel after every tensor (memory.py): 300k page faults per 40 pairs down to 10-40k, 1.15x.
- Batches are length-sorted under a token budget (by the driver), and inside a batch rows of
  similar length run together: padding is 8% of the body's slots on HH-RLHF.
- Everything runs under `torch.inference_mode`.

Models whose attention takes no custom mask (flash-attention kernels, unusual layer kinds) are
detected at load and run one response per row, the context repeated: exact, and slower.
"""

from __future__ import annotations

from pathlib import Path

import torch

from typicality.errors import TypicalityError, one_line
from typicality.scoring.backends import DEFAULT_BATCH_TOKENS, TokenizerBackend
from typicality.scoring.batching import similar_lengths
from typicality.scoring.checkpoints import EMBEDDED_NAME, embedded_checkpoint, embedded_revision, gguf_checkpoint
from typicality.scoring.fingerprint import files_digest
from typicality.scoring.local_tokenizer import LocalTokenizer
from typicality.scoring.memory import freed_memory_kept
from typicality.scoring.packing import PADDING, PackedRow, pack_rows, padded_tensors, tree_mask
from typicality.scoring.requests import Prepared, TokenScores

WINDOW_ATTRIBUTES = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
LOGITS_PER_CHUNK = 1 << 26  # floats of logits held at once (256 MiB), whatever the vocabulary size


def load_transformers_backend(model: str = EMBEDDED_NAME, **options) -> "TransformersBackend":
    """The registry's factory (backends.py): `TransformersBackend(model, **options)`."""
    return TransformersBackend(model, **options)


class TransformersBackend(LocalTokenizer, TokenizerBackend):
    """A Hugging Face causal LM scoring responses exactly, fast on CPU.

    `model`: "gemma-3-270m" (the embedded default), a hub id, a local checkpoint folder or a
    .gguf file. `bos`: "auto" (the tokenizer's own habit), "always" or "never"; a BOS is never
    doubled. `chat_template`: wrap each prompt in the tokenizer's chat template (off: raw text).
    `max_length`: the context window (default: the model config's). `batch_tokens`: token
    positions per batch (a speed setting; scores do not depend on it).
    """

    name = "transformers"
    light_settings = ("max_length", "bos", "chat_template", "share_contexts", "batch_tokens")

    def __init__(
        self,
        model: str = EMBEDDED_NAME,
        *,
        device: str | None = None,
        dtype: str | None = None,
        bos: str = "auto",
        chat_template: bool = False,
        max_length: int | None = None,
        share_contexts: bool = True,
        revision: str | None = None,
        trust_remote_code: bool = False,
        progress: bool = True,
        device_map: str | dict | None = None,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
    ):
        self.model_name = str(model)
        self.device = _resolve_device(device)
        self.torch_dtype = _resolve_dtype(dtype, self.device)
        self.device_map = device_map
        self.model, self.tokenizer, self.revision = _load(
            self.model_name, self.torch_dtype, revision, trust_remote_code, progress, device_map
        )
        if device_map is None:
            self.model.to(self.device)
        else:
            # Spread by accelerate: inputs go to the first module's device; outputs are brought back there.
            self.device = _first_device(self.model)
        self.model.eval()
        self.config_window = _config_window(self.model.config)
        self._head_is_exact = self._check_head()
        self._packing_works = self._check_packing()
        self._apply_settings(bos=bos, chat_template=chat_template, max_length=max_length, share_contexts=share_contexts, batch_tokens=batch_tokens)

    # -- settings ------------------------------------------------------------------------------

    def _apply_settings(self, **settings) -> None:
        self._check_tokenizer_settings(settings)  # the options' values are checked by TransformersOptions (backend_options.py)
        if "share_contexts" in settings and not isinstance(settings["share_contexts"], bool):
            raise TypicalityError(f"share_contexts must be True or False, got {settings['share_contexts']!r}.")
        max_length = settings.get("max_length")
        if max_length is not None and not 2 <= max_length <= self.config_window:
            raise TypicalityError(
                f"--max-length {max_length} is outside 2..{self.config_window} (the window of {self.model_name})."
            )
        super()._apply_settings(**settings)

    @property
    def _packs_contexts(self) -> bool:
        return self.share_contexts and self._packing_works

    @property
    def window(self) -> int:
        return self.max_length or self.config_window

    @property
    def dtype_name(self) -> str:
        return str(self.torch_dtype).removeprefix("torch.")

    def describe(self) -> dict:
        return {
            **super().describe(),
            "bos_policy": self.bos,
            "device_map": None if self.device_map is None else str(self.device_map),
            "torch_threads": torch.get_num_threads(),
            "context_sharing": "packed rows (a prompt's responses share one pass)" if self._packs_contexts else "one response per row",
            "output_layer": "response positions only" if self._head_is_exact else "full logits (model has a custom head)",
            "config_window": self.config_window,
        }

    # -- tokens ----------------------------------------------------------------------------------
    # prepare, trace, the BOS policy and the chat template: LocalTokenizer (local_tokenizer.py).

    def _one_at_a_time(self, ids: list[int]) -> list[float]:
        """The naive computation (naive.py): one sequence, full logits, float32."""
        from typicality.scoring.naive import naive_token_logprobs

        with torch.inference_mode():
            return naive_token_logprobs(self.model, ids, 1).tolist()

    # -- scoring ---------------------------------------------------------------------------------

    def scoring_session(self):
        # On CPU, no page faults for every activation tensor (memory.py); CUDA has its own caching allocator.
        return freed_memory_kept() if self.device == "cpu" else super().scoring_session()

    def score_batch(self, batch: list[Prepared]) -> list[TokenScores]:
        with torch.inference_mode():
            return self._score_batch(batch)

    def token_logprobs(self, batch: list[Prepared]) -> list[list[float]]:
        """Each prepared response's per-token log-probabilities, computed exactly as `score_batch` computes their sums."""
        with torch.inference_mode():
            rows_of, logprobs = self._batch_logprobs(batch)
        return [logprobs[rows_of == row].tolist() for row in range(len(batch))]

    def _score_batch(self, batch: list[Prepared]) -> list[TokenScores]:
        rows_of, logprobs = self._batch_logprobs(batch)
        sums = torch.zeros(len(batch), dtype=torch.float64).index_add_(0, rows_of, logprobs.double().cpu())
        return [TokenScores(len(item.response), float(total)) for item, total in zip(batch, sums.tolist())]

    def _batch_logprobs(self, batch: list[Prepared]) -> tuple[torch.Tensor, torch.Tensor]:
        """(the batch row of each scored token, its log-probability): every response token of the batch, in order."""
        rows = pack_rows(batch, share_contexts=self._packs_contexts)
        outputs: list[torch.Tensor | None] = [None] * len(batch)
        for run in similar_lengths([len(row) for row in rows]):  # rows of similar length: little padding
            # Rows of one response each are plain sequences: the model builds its own masks, and can skip
            # them (causal attention on a long document needs no slots x slots mask in memory).
            packed = self._packs_contexts and any(len(rows[i].predictions) > 1 for i in run)
            hidden = self._forward([rows[i] for i in run], packed=packed)
            for n, i in enumerate(run):
                for index, slots in rows[i].predictions:
                    outputs[index] = hidden[n, slots]

        rows_of = torch.cat([torch.full((len(item.response),), row, dtype=torch.long) for row, item in enumerate(batch)])
        targets = torch.cat([torch.tensor(item.response, dtype=torch.long) for item in batch])
        return rows_of, self._token_logprobs(torch.cat(outputs), targets).cpu()  # type: ignore[arg-type]

    def _forward(self, rows: list[PackedRow], packed: bool) -> torch.Tensor:
        """Hidden states (or logits, for models with a custom head) of every slot of the rows, in one pass."""
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids, segments, positions = padded_tensors(rows, pad)
        if packed:
            mask = self._tree_masks(segments, positions)
        else:  # one response per row, right-padded: the model builds its own causal (and sliding) masks
            mask = (segments != PADDING).long().to(self.device)
        inputs = {"input_ids": ids.to(self.device), "attention_mask": mask, "position_ids": positions.to(self.device), "use_cache": False}
        if self._head_is_exact:
            # .to(device): a no-op unless --device-map spread the layers
            return self.model.base_model(**inputs).last_hidden_state.to(self.device)
        return self.model(**inputs).logits.to(self.device)

    def _tree_masks(self, segments: torch.Tensor, positions: torch.Tensor):
        """The packed rows' masks in the form the model takes: one per layer type where it has several
        (Gemma's sliding and full layers), boolean for SDPA, additive for eager attention."""
        config = self.model.config.get_text_config()
        window = getattr(config, "sliding_window", None)
        segments, positions = segments.to(self.device), positions.to(self.device)

        def form(visible: torch.Tensor) -> torch.Tensor:
            if config._attn_implementation == "sdpa":
                return visible
            hidden = torch.finfo(self.torch_dtype).min
            return torch.zeros(visible.shape, dtype=self.torch_dtype, device=self.device).masked_fill_(~visible, hidden)

        layer_types = getattr(config, "layer_types", None)
        if not layer_types:  # one kind of layer: sliding everywhere when the config names a window (Mistral)
            return form(tree_mask(segments, positions, window))
        return {kind: form(tree_mask(segments, positions, window if kind == "sliding_attention" else None)) for kind in set(layer_types)}

    def _token_logprobs(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log p(target) from each output row: the output layer in chunks, log-softmax in float32.

        The log-softmax is shifted by each row's target logit, not its maximum: log p = -log sum
        exp(logit - target logit). That saves a pass over the 262k logits of every row (the
        maximum's; 1.1x on the output layer), and is as exact unless some logit exceeds the
        target's by more than 88 nats (p < 1e-38), where the sum overflows: such rows are redone
        shifted by their maximum. The logits of a chunk go into one buffer kept between batches:
        a fresh 256 MiB array per chunk would cost page faults that take longer than the arithmetic.
        """
        vocab = self.model.config.get_text_config().vocab_size
        chunk = max(1, LOGITS_PER_CHUNK // vocab)
        logprobs = []
        for start in range(0, len(targets), chunk):
            rows = outputs[start : start + chunk]
            logits = self._logits(rows)
            target = targets[start : start + chunk].to(logits.device)
            picked = logits.gather(1, target[:, None])
            total = logits.sub_(picked).exp_().sum(dim=-1)  # in place: the buffer is overwritten next chunk anyway
            logprob = -total.log()
            overflow = torch.isinf(total)
            if overflow.any():
                logprob[overflow] = self._logprobs_by_maximum(rows[overflow.to(rows.device)], target[overflow])
            logprobs.append(logprob.cpu())
        return torch.cat(logprobs)

    def _logprobs_by_maximum(self, rows: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The textbook log-softmax (shifted by each row's maximum logit) of a few rows."""
        logits = self._logits(rows)
        picked = logits.gather(1, target[:, None]).squeeze(1)
        peak = logits.amax(dim=-1, keepdim=True)
        return picked - peak.squeeze(1) - logits.sub_(peak).exp_().sum(dim=-1).log()

    def _logits(self, outputs: torch.Tensor) -> torch.Tensor:
        """Float32 logits for a chunk of output rows, in the reusable buffer where possible."""
        if not self._head_is_exact:
            return outputs.float().clone()  # already logits
        layer = self.model.get_output_embeddings()
        hidden = outputs.to(layer.weight.device, layer.weight.dtype)
        if layer.weight.dtype != torch.float32 or not self.device == "cpu":
            return self._output_layer(hidden).float()  # GPUs cache their allocations themselves
        needed = layer.weight.shape[0] * len(hidden)
        buffer = getattr(self, "_logit_buffer", None)
        if buffer is None or buffer.numel() < needed:
            buffer = self._logit_buffer = torch.empty(max(needed, LOGITS_PER_CHUNK))
        return self._output_layer(hidden, out=buffer[:needed].view(layer.weight.shape[0], len(hidden)))

    def _output_layer(self, hidden: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [rows, vocab] (a transposed view), written into `out` [vocab, rows] when given."""
        layer = self.model.get_output_embeddings()
        # weight @ hidden.T runs ~1.5x faster than hidden @ weight.T with MKL on CPU (same sums).
        logits = torch.matmul(layer.weight, hidden.t(), out=out).t()
        if getattr(layer, "bias", None) is not None:
            logits += layer.bias
        softcap = getattr(self.model.config.get_text_config(), "final_logit_softcapping", None)
        if softcap:
            logits.div_(softcap).tanh_().mul_(softcap)
        return logits

    @torch.inference_mode()
    def _check_head(self) -> bool:
        """Whether the output layer (+ soft-capping) on the body's states reproduces the model's logits.

        True for most causal LMs; a model with its own logit scaling falls back to full logits.
        """
        ids = torch.tensor([[self.tokenizer.bos_token_id or 0, *self.tokenizer("Hello there", add_special_tokens=False)["input_ids"]]])
        ids = ids.to(self.device)
        try:
            reference = self.model(input_ids=ids).logits.float()
        except Exception:
            return False
        if not torch.isfinite(reference).all():
            # Every score would be NaN: a model whose activations overflow this dtype (Gemma in float16) is refused here.
            dtype = str(self.torch_dtype).removeprefix("torch.")
            raise TypicalityError(
                f"{self.model_name} gives non-finite logits in {dtype} on a two-word probe (its activations overflow {dtype}'s range): "
                "use --dtype bfloat16 or --dtype float32."
            )
        try:
            hidden = self.model.base_model(input_ids=ids).last_hidden_state
            layer = self.model.get_output_embeddings()
            mine = self._output_layer(hidden[0].to(layer.weight.device)).to(reference.device).float()[None]
        except Exception:
            return False
        return bool(torch.allclose(reference, mine, rtol=1e-4, atol=1e-4 * float(reference.abs().max())))


    def _check_packing(self) -> bool:
        """Whether the model takes the packed rows' tree masks (packing.py): a prompt with two responses
        packed into one row must give the outputs of each response run in a row of its own, within
        `packing_tolerance` of the dtype.

        False, and one response per row, for attention that takes no custom mask (flash-attention
        kernels), layer kinds other than full and sliding attention, or any disagreement.
        """
        deviation = self._packing_deviation()
        return deviation is not None and deviation <= packing_tolerance(self.torch_dtype)

    @torch.inference_mode()
    def _packing_deviation(self) -> float | None:
        """The largest |packed - separate| output of a probe (a prompt with two responses), as a share of
        the largest |separate| output of the same response; None when the model cannot take the tree
        masks at all."""
        config = self.model.config.get_text_config()
        if config._attn_implementation not in ("sdpa", "eager"):
            return None
        if not set(getattr(config, "layer_types", None) or ()) <= {"full_attention", "sliding_attention"}:
            return None

        def encode(text: str) -> tuple[int, ...]:
            return tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])

        context = (self.tokenizer.bos_token_id or 0, *encode("Human: What is the capital of France? Assistant:"))
        probe = [Prepared("a", context, encode(" Paris, of course.")), Prepared("b", context, encode(" I think that it is Rome, but I am not sure."))]
        try:
            (row,) = pack_rows(probe, share_contexts=True)
            together = self._forward([row], packed=True)[0]
            apart_rows = pack_rows(probe, share_contexts=False)
            apart = self._forward(apart_rows, packed=False)
        except Exception:
            return None
        shares = []
        for n, ((_, slots), (_, own_slots)) in enumerate(zip(row.predictions, (r.predictions[0] for r in apart_rows))):
            mine, reference = together[slots].float(), apart[n, own_slots].float()
            scale = reference.abs().nan_to_num(nan=0.0, posinf=0.0).max().clamp(min=1e-30)  # a float16 overflow is the same either way
            difference = (mine - reference).abs()
            # the same infinity or NaN on both sides agrees (inf - inf is NaN); on one side only, it stays NaN or inf
            difference[(mine == reference) | (mine.isnan() & reference.isnan())] = 0.0
            shares.append(difference.max() / scale)
        return float(torch.stack(shares).max())  # NaN if any is: an unmatched NaN refuses


def packing_tolerance(dtype: torch.dtype) -> float:
    """The largest |packed - separate| output, as a share of the largest output, that is rounding alone.

    With the right mask a packed row computes the separate rows' sums in another order, so the two
    differ by rounding: float32 accumulators summing in another order (every dtype accumulates in
    float32), and in bfloat16 and float16 stored activations rounding to the neighbouring value. A
    wrong mask changes what tokens see, and the outputs by a sizeable share. Measured on the probe
    (`benchmarks/packing_tolerance.py`: the embedded Gemma 3 270M, and the tests' tiny Gemma, Llama,
    Mistral, Qwen2 and GPT-2 with SDPA and eager attention; CPU): right masks at most 7.8 eps in float32 (9.3e-7), 1.5 in bfloat16
    (0.012), 3.1 in float16 (0.0030); wrong masks at least 0.12 (one context key hidden from the
    responses; Gemma 0.22), and 0.29 on Gemma for the second response seeing the first.

    Hence two terms. 8 eps of the dtype for its stored rounding: over 5x what bfloat16 showed and
    2.5x float16, yet in bfloat16, the coarsest, half the smallest wrong-mask difference (8 x 2^-7 =
    0.0625). Not scaled with depth: the rounding measured did not grow with layers (7.8 eps at 4
    layers, 4.2 at Gemma's 18), and a bound that did would let a 32-layer bfloat16 model (25%)
    accept wrong masks. Plus 1e-4 for the float32 sums: float32's tolerance before half precision
    was considered (100x the 9.3e-7 measured, room for GPU kernels that split their sums otherwise;
    over 1000x under any wrong mask), so float32 stays as strict as it was.
    """
    return 8 * torch.finfo(dtype).eps + 1e-4


# -- loading ---------------------------------------------------------------------------------------


def _resolve_device(device: str | None) -> str:
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TypicalityError(f"--device {device}: CUDA is not available on this machine; use --device cpu.")
    return device


def _resolve_dtype(dtype: str | None, device: str) -> torch.dtype:
    if dtype is None:
        # float32 on CPU (exact, and no faster kernels for half precision there); bfloat16 on a GPU.
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]  # checked by TransformersOptions


def _config_window(config) -> int:
    text_config = config.get_text_config()
    for attribute in WINDOW_ATTRIBUTES:
        value = getattr(text_config, attribute, None)
        if isinstance(value, int) and value > 1:
            return value
    raise TypicalityError(
        f"The config of {getattr(config, 'name_or_path', 'the model')} states no context window "
        f"(none of {', '.join(WINDOW_ATTRIBUTES)}); pass --max-length."
    )


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.endswith(".gguf") or Path(model).expanduser().exists()


def _first_device(model) -> str:
    """Where a model spread by accelerate takes its inputs: the device of its first placed module."""
    placed = [d for d in getattr(model, "hf_device_map", {}).values() if d not in ("disk", "meta")]
    first = placed[0] if placed else "cpu"
    return f"cuda:{first}" if isinstance(first, int) else str(first)


def _load(model: str, dtype: torch.dtype, revision: str | None, trust_remote_code: bool, progress: bool, device_map=None):
    """(model, tokenizer, revision) for any supported model name, or one clear error naming it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options: dict = {"trust_remote_code": trust_remote_code}
    if model == EMBEDDED_NAME:
        source, resolved = embedded_checkpoint(progress), embedded_revision()
    elif _looks_like_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise TypicalityError(f"Model '{model}': no such file or folder.")
        if path.is_file():
            if path.suffix != ".gguf":
                raise TypicalityError(f"Model '{model}' is a file but not a .gguf; give a checkpoint folder or a .gguf file.")
            resolved = files_digest([path])
            source = gguf_checkpoint(path, resolved.split(":", 1)[1], progress)
        else:
            if not (path / "config.json").exists():
                raise TypicalityError(f"Model '{model}': the folder has no config.json, so it is not a transformers checkpoint.")
            weights = [p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES or p.name == "config.json"]
            source, resolved = path, files_digest(weights)
    else:
        source, resolved = model, revision
        if revision:
            options["revision"] = revision
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source), **options)
        placement = {"device_map": device_map} if device_map is not None else {}
        loaded = AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype, **options, **placement)
    except Exception as error:
        raise TypicalityError(
            f"Could not load model '{model}': {type(error).__name__}: {one_line(error).rstrip('.')}. "
            f"Give '{EMBEDDED_NAME}' (the embedded default), a Hugging Face causal LM id (the hub must be "
            "reachable, or the model already in the Hugging Face cache), a local checkpoint folder, or a .gguf file."
        ) from error
    if resolved is None:
        resolved = getattr(loaded.config, "_commit_hash", None) or "unknown-revision"
    return loaded, tokenizer, resolved
