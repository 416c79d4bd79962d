"""Each backend's own options: a frozen dataclass whose fields are its settings and its CLI flags (torch-free).

A field's `dataclasses.field` metadata holds what the command line needs (help, choices,
metavar) and what every value must satisfy (choices, minimum), so a flag is declared, offered
and checked in one place: `typicality score --help` lists the fields of every registered
backend's class (cli.add_model_options), and `__post_init__` refuses an invalid value with the
flag's name, so an options object is valid once built, whoever built it (the CLI,
`ScoringOptions`, `load_backend` or a loaded backend's `configured`).

None (False for a switch) means "not given": the backend's own default applies, and an option
given for a model whose backend does not declare it is refused (options.py). Backends that
share a flag share its declaration: `InProcessOptions` holds the flags of both in-process
backends (transformers and vLLM), so `--dtype` is declared and checked once.

The built-in backends' classes live here because their modules load torch or vLLM; a new
backend declares its class in its own module and passes it to `register_backend(...,
options=ItsOptions)` (backends.py).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typicality.errors import TypicalityError
from typicality.scoring.checkpoints import EMBEDDED_NAME

# Names a backend option cannot take: the settings of ScoringOptions itself and the factories' `progress`.
RESERVED_NAMES = frozenset(
    {"model", "backend", "revision", "model_options", "cache_dir", "shard", "check", "engine", "ray_address", "workers", "gpus_per_worker",
     "ray_batch_size", "progress"}
)
DTYPES = ("float32", "bfloat16", "float16")
BOS_POLICIES = ("auto", "always", "never")


def option(help: str, *, choices: tuple | None = None, minimum: int | None = None, metavar: str | None = None, default: Any = None):
    """A backend option: a dataclass field whose metadata is its flag (help, choices, metavar) and its check (choices, minimum)."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "minimum": minimum, "metavar": metavar})


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class BackendOptions:
    """The options of a backend that declares none; the base of every backend's options class."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or value is False:
                continue
            choices, minimum = field.metadata.get("choices"), field.metadata.get("minimum")
            if choices is not None and value not in choices:
                raise TypicalityError(f"{flag_name(field.name)} must be one of {', '.join(map(str, choices))}, got {value!r}.")
            if minimum is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
                raise TypicalityError(f"{flag_name(field.name)} must be a whole number of at least {minimum}, got {value!r}.")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def value_type(cls, name: str) -> type:
        """The flag's value type (int, float, str or bool), from the field's annotation (`int | None` -> int)."""
        hint = typing.get_type_hints(cls)[name]
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return hint

    def given(self) -> dict:
        """The options set (not None, not False), by name: the keyword arguments of the backend's factory."""
        return {name: getattr(self, name) for name in self.names() if getattr(self, name) is not None and getattr(self, name) is not False}


@dataclass(frozen=True)
class InProcessOptions(BackendOptions):
    """The flags every in-process backend (a local tokenizer and weights: transformers, vLLM) takes."""

    dtype: str | None = option("weights' dtype (default: float32 on CPU, bfloat16 on CUDA)", choices=DTYPES)
    bos: str | None = option("put a BOS token before each text (default auto: as the tokenizer does)", choices=BOS_POLICIES)
    chat_template: bool = option("wrap each prompt in the model's chat template (default: raw text)", default=False)
    max_length: int | None = option("context window in tokens (default: the model's)", minimum=2, metavar="N")
    trust_remote_code: bool = option("allow the model's own code from the hub (off by default)", default=False)
    batch_tokens: int | None = option(
        "token positions per batch (default 4096; a speed and memory setting: scores do not depend on it)", minimum=1, metavar="B"
    )


@dataclass(frozen=True)
class TransformersOptions(InProcessOptions):
    """transformers_backend.py: any causal LM in this process, on one device or spread over several."""

    device: str | None = option("cpu, cuda, cuda:1, ... (default: cuda when available, else cpu)")
    device_map: str | None = option("transformers: spread the model over devices, e.g. auto (all visible GPUs, via accelerate)", metavar="MAP")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.device is not None and self.device_map is not None:
            raise TypicalityError("Give --device or --device-map, not both (--device-map auto spreads the model over all visible GPUs).")


@dataclass(frozen=True)
class OpenAIOptions(BackendOptions):
    """openai_backend.py: an OpenAI-compatible completions server (openai:URL#MODEL)."""

    concurrency: int | None = option("openai:URL#MODEL: requests in flight at once (default 8)", minimum=1, metavar="N")
    timeout: float | None = option("openai:URL#MODEL: seconds to wait for one answer (default 300)", metavar="S")
    max_retries: int | None = option("openai:URL#MODEL: retries of a request on 429/5xx/dropped connections (default 8)", minimum=0, metavar="N")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.timeout is not None and not (isinstance(self.timeout, (int, float)) and not isinstance(self.timeout, bool) and self.timeout > 0):
            raise TypicalityError(f"--timeout must be a positive number of seconds, got {self.timeout!r}.")


@dataclass(frozen=True)
class VLLMOptions(InProcessOptions):
    """vllm_backend.py: vLLM's engine in this process (vllm:MODEL); it places the model itself (no --device, --device-map)."""

    tensor_parallel_size: int | None = option("vllm:MODEL: GPUs to split the model over (default 1)", minimum=1, metavar="N")
    gpu_memory_utilization: float | None = option(
        "vllm:MODEL: share of GPU memory (vLLM's CPU build: of RAM) the engine takes (vLLM's default 0.9; ~0.15 on a small CPU machine)",
        metavar="SHARE",
    )
    enforce_eager: bool = option("vllm:MODEL: no CUDA graphs or torch.compile (a faster start, slower scoring)", default=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        share = self.gpu_memory_utilization
        if share is not None and not (isinstance(share, (int, float)) and not isinstance(share, bool) and 0 < share <= 1):
            raise TypicalityError(f"--gpu-memory-utilization must be a share between 0 and 1 (e.g. 0.9; 0.15 on a small CPU machine), got {share!r}.")


def names_a_missing_path(model: str) -> bool:
    """A model written as a path (./x, /x, ~/x, x.gguf) that does not exist; a hub id is the loader's to find."""
    return model != EMBEDDED_NAME and (model.startswith((".", "/", "~")) or model.endswith(".gguf")) and not Path(model).expanduser().exists()


def check_local_model(model: str) -> None:
    """The transformers backend's pre-flight: a model named by a path must exist (its registered `preflight`)."""
    if names_a_missing_path(model):
        raise TypicalityError(f"Model '{model}': no such file or folder.")
