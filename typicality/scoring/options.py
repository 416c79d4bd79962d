"""`ScoringOptions`: every setting of a scoring run in one object, checked before anything loads (torch-free).

The CLI builds one from its flags, `audit()` and `score()` take one, and the audit's
in-progress marker stores `to_dict()` (JSON; never an API key: keys are read from the
environment only). `validate()` refuses an unknown or invalid option, an option that does not
apply to the kind of model named, and an unusable score cache, each with one clear message,
without loading a model, so a mistake costs seconds, not a model load.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from typicality.errors import TypicalityError, one_line
from typicality.scoring.backends import BACKENDS, backend_for_model, backend_names
from typicality.scoring.cache import CACHE_FILE, SCHEMA_COLUMNS
from typicality.scoring.checkpoints import EMBEDDED_NAME
from typicality.scoring.paths import CACHE_ENV

DTYPES = ("float32", "bfloat16", "float16")
BOS_POLICIES = ("auto", "always", "never")
# Options that only mean something for some kinds of model (checked by `validate`).
LOCAL_ONLY = ("device", "dtype", "bos", "chat_template", "max_length", "trust_remote_code", "device_map", "batch_tokens")
ENDPOINT_ONLY = ("concurrency", "max_retries", "timeout")
# Where the model runs: in this process, or in actor workers of a Ray cluster (ray_engine.py).
ENGINES = ("local", "ray")
RAY_ONLY = ("ray_address", "workers", "gpus_per_worker", "ray_batch_size")
RAY_INSTALL = "pip install 'typicality[ray]'"
VLLM_ONLY = ("tensor_parallel_size", "gpu_memory_utilization", "enforce_eager")
# vLLM places the model itself (device, device_map: use tensor_parallel_size).
VLLM_OPTIONS = ("dtype", "bos", "chat_template", "max_length", "trust_remote_code", "batch_tokens", *VLLM_ONLY)
KIND_OPTIONS = {"transformers": LOCAL_ONLY, "vllm": VLLM_OPTIONS, "openai": ENDPOINT_ONLY}
KIND_NAMES = {"transformers": "transformers", "vllm": "vllm:MODEL", "openai": "openai:URL#MODEL"}


@dataclass
class ScoringOptions:
    """How to score: the reference model, how to run it, and where the cache lives.

    None means "the backend's default". `model`: the embedded "gemma-3-270m", a Hugging Face
    id, a checkpoint folder, a .gguf file, `vllm:MODEL` (the same models run by vLLM's engine
    in this process, vllm_backend.py), or `openai:URL#MODEL` (an OpenAI-compatible
    completions server). `backend`: a registered backend name (None: from the model string).
    `check`: run the quick conformance check (check.py) before scoring a model other than
    the embedded one; its result goes into the score card. `engine`: "local" (this process)
    or "ray" (one backend per actor worker of a Ray cluster, see ray_engine.py; the ray_*
    options and `workers`, `gpus_per_worker` apply to it only).
    """

    model: str = EMBEDDED_NAME
    backend: str | None = None
    # in-process (transformers) models
    device: str | None = None
    dtype: str | None = None
    bos: str | None = None
    chat_template: bool = False
    max_length: int | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    device_map: str | None = None
    batch_tokens: int | None = None
    # endpoint (openai:URL#MODEL) models
    concurrency: int | None = None
    max_retries: int | None = None
    timeout: float | None = None
    # vllm:MODEL models (with dtype, bos, chat_template, max_length, trust_remote_code, batch_tokens)
    tensor_parallel_size: int | None = None
    gpu_memory_utilization: float | None = None
    enforce_eager: bool = False
    # the run
    cache_dir: str | None = None
    shard: str | None = None
    check: bool = True
    # where it runs (--engine ray: ray_engine.py)
    engine: str = "local"
    ray_address: str | None = None
    workers: int | None = None
    gpus_per_worker: float | None = None
    ray_batch_size: int | None = None

    @classmethod
    def create(cls, **settings) -> "ScoringOptions":
        """Options from keyword settings; an unknown name is one clear error, not a TypeError."""
        unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypicalityError(
                f"Unknown scoring option(s) {', '.join(unknown)}. Known: {', '.join(f.name for f in dataclasses.fields(cls))}."
            )
        return cls(**settings)

    def __post_init__(self) -> None:
        # Plain JSON types, whatever the caller passed: a Path for the cache, (i, n) for a shard.
        if isinstance(self.cache_dir, Path):
            self.cache_dir = str(self.cache_dir)
        if isinstance(self.shard, (tuple, list)):
            self.shard = "/".join(str(part) for part in self.shard)

    def replace(self, **settings) -> "ScoringOptions":
        """A copy with some settings changed (unknown names refused)."""
        return ScoringOptions.create(**{**self.to_dict(), **settings})

    def to_dict(self) -> dict:
        """JSON-able settings (for the audit's in-progress marker and the card). Holds no secret."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> "ScoringOptions":
        return cls.create(**settings)

    @property
    def backend_name(self) -> str:
        return self.backend or backend_for_model(self.model)

    @property
    def is_endpoint(self) -> bool:
        return self.backend_name == "openai"

    @property
    def kind(self) -> str:
        """Which options apply: "openai", "vllm", or "transformers" (any other registered backend takes its options)."""
        return self.backend_name if self.backend_name in KIND_OPTIONS else "transformers"

    def backend_options(self) -> dict:
        """The keyword arguments for `load_backend(model, backend, **options)`: the settings given, in the backend's names."""
        names = KIND_OPTIONS[self.kind] + ("revision",)
        options = {name: getattr(self, name) for name in names if getattr(self, name) not in (None, False)}
        if "timeout" in options:
            options["timeout_s"] = options.pop("timeout")
        return options

    def validate(self, *, loaded: bool = False) -> "ScoringOptions":
        """Refuse invalid settings and an unusable cache, with one clear message each; loads no model.

        `loaded`: the options go with a backend already loaded (its model and kind are settled).
        """
        self._check_values()
        if not loaded:
            self._check_kind()
        self._check_engine(loaded)
        check_cache_folder(self.cache_folder())
        return self

    def cache_folder(self) -> Path:
        """The score cache folder this run will use (not created here)."""
        if self.cache_dir is not None:
            return Path(self.cache_dir).expanduser()
        from typicality.scoring.paths import default_cache_root

        return default_cache_root()

    def shard_parts(self) -> tuple[int, int] | None:
        from typicality.scoring.sharding import parse_shard

        return None if self.shard is None else parse_shard(self.shard)

    def _check_values(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise TypicalityError(f"--model {self.model!r}: give a model name, path or openai:URL#MODEL.")
        if self.backend is not None and self.backend not in BACKENDS:
            raise TypicalityError(f"Unknown scoring backend '{self.backend}'. Known backends: {', '.join(backend_names())}.")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise TypicalityError(f"--dtype must be one of {', '.join(DTYPES)}, got '{self.dtype}'.")
        if self.bos is not None and self.bos not in BOS_POLICIES:
            raise TypicalityError(f"--bos must be one of {', '.join(BOS_POLICIES)}, got '{self.bos}'.")
        _at_least("--batch-tokens", self.batch_tokens, 1)
        _at_least("--max-length", self.max_length, 2)
        _at_least("--concurrency", self.concurrency, 1)
        _at_least("--max-retries", self.max_retries, 0)
        _at_least("--tensor-parallel-size", self.tensor_parallel_size, 1)
        share = self.gpu_memory_utilization
        if share is not None and not (isinstance(share, (int, float)) and not isinstance(share, bool) and 0 < share <= 1):
            raise TypicalityError(f"--gpu-memory-utilization must be a share between 0 and 1 (e.g. 0.9; 0.15 on a small CPU machine), got {share!r}.")
        if self.timeout is not None and not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            raise TypicalityError(f"--timeout must be a positive number of seconds, got {self.timeout!r}.")
        if self.device is not None and self.device_map is not None:
            raise TypicalityError("Give --device or --device-map, not both (--device-map auto spreads the model over all visible GPUs).")
        self.shard_parts()

    def _check_kind(self) -> None:
        """Options that do not apply to the kind of model named are refused, not ignored."""
        kind = self.kind
        if kind == "openai":
            from typicality.scoring.openai_client import parse_endpoint

            parse_endpoint(self.model)  # a malformed URL or a missing model name, named now
        elif kind == "vllm":
            from typicality.scoring.vllm_backend import INSTALL_HINT, model_of, vllm_installed

            model = model_of(self.model)
            if _names_a_missing_path(model) or model.endswith(".gguf"):
                raise TypicalityError(f"Model '{self.model}': give vLLM an existing checkpoint folder or a Hugging Face id.")
        elif _names_a_missing_path(self.model):
            raise TypicalityError(f"Model '{self.model}': no such file or folder.")
        given = [name for name in dict.fromkeys(LOCAL_ONLY + ENDPOINT_ONLY + VLLM_ONLY) if getattr(self, name) is not None and getattr(self, name) is not False]
        misplaced = [name for name in given if name not in KIND_OPTIONS[kind]]
        if misplaced:
            self._refuse_misplaced(kind, misplaced)
        if kind == "vllm" and not vllm_installed():
            raise TypicalityError(f"--model {self.model}: {INSTALL_HINT}.")

    def _refuse_misplaced(self, kind: str, misplaced: list[str]) -> None:
        flags = ", ".join("--" + name.replace("_", "-") for name in misplaced)
        homes = sorted({other for name in misplaced for other, names in KIND_OPTIONS.items() if name in names}, key=list(KIND_OPTIONS).index)
        where = " or ".join(KIND_NAMES[home] for home in homes)
        if "transformers" in homes and "openai" not in homes:
            where = f"in-process ({where}) models"
        else:
            where = f"{where} models"
        if kind == "openai":
            raise TypicalityError(f"{flags} applies to {where}, not openai:URL#MODEL; drop it or change --model (now {self.model}).")
        raise TypicalityError(f"{flags} applies to {where}; drop it or change --model (now {self.model}).")


    def _check_engine(self, loaded: bool) -> None:
        """--engine ray: its options only with it, an in-process kind of model, and Ray installed (found, not imported)."""
        if self.engine not in ENGINES:
            raise TypicalityError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}.")
        _at_least("--workers", self.workers, 1)
        _at_least("--ray-batch-size", self.ray_batch_size, 1)
        if self.gpus_per_worker is not None and not (
            isinstance(self.gpus_per_worker, (int, float)) and not isinstance(self.gpus_per_worker, bool) and self.gpus_per_worker >= 0
        ):
            raise TypicalityError(f"--gpus-per-worker must be a number of at least 0 (e.g. 1, or 0.5 for two workers per GPU), got {self.gpus_per_worker!r}.")
        if self.engine != "ray":
            given = [name for name in RAY_ONLY if getattr(self, name) is not None]
            if given:
                flags = ", ".join("--" + name.replace("_", "-") for name in given)
                raise TypicalityError(f"{flags} applies to --engine ray only; add --engine ray or drop it.")
            return
        if loaded:
            raise TypicalityError(
                "engine='ray' loads the model in the Ray workers, not here: pass the model's name (or ScoringOptions), not a loaded backend."
            )
        if self.is_endpoint:
            raise TypicalityError(
                f"--engine ray runs the model in Ray workers; {self.model} is a server that batches requests itself. "
                "Drop --engine ray and raise --concurrency instead."
            )
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise TypicalityError(f"--engine ray needs Ray (with Ray Data), which is not installed here: {RAY_INSTALL}.")


def _names_a_missing_path(model: str) -> bool:
    """A model written as a path (./x, /x, ~/x, x.gguf) that does not exist; a hub id is the loader's to find."""
    return model != EMBEDDED_NAME and (model.startswith((".", "/", "~")) or model.endswith(".gguf")) and not Path(model).expanduser().exists()


def _at_least(flag: str, value, minimum: int) -> None:
    if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
        raise TypicalityError(f"{flag} must be a whole number of at least {minimum}, got {value!r}.")


def check_cache_folder(folder: Path) -> None:
    """The score cache must be writable and, when it exists, a readable typicality cache; checked without changing it."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    where = f"--cache-dir or ${CACHE_ENV}"
    if not existing.is_dir():
        raise TypicalityError(f"The score cache folder {folder} cannot be created: {existing} is a file. Pass another {where}.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TypicalityError(f"The score cache folder {existing} is not writable. Pass a writable {where}.")
    database = folder / CACHE_FILE
    if not database.exists():
        return
    if not os.access(database, os.R_OK | os.W_OK):
        raise TypicalityError(f"The score cache {database} is not readable and writable by you. Fix its permissions or pass another {where}.")
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=60)
        try:
            connection.execute("PRAGMA schema_version").fetchone()  # reads the header: fails on a file that is not a database
            columns = [row[1] for row in connection.execute("PRAGMA table_info(scores)")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise TypicalityError(
            f"The score cache {database} cannot be opened ({one_line(error)}). Delete it to start afresh, or pass another {where}."
        ) from None
    if columns and columns != list(SCHEMA_COLUMNS):
        raise TypicalityError(
            f"The score cache {database} has another layout (columns {', '.join(columns)}); it was not written by this version "
            f"of typicality. Move it away to start afresh, or pass another {where}."
        )
