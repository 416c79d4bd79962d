"""`ScoringOptions`: every setting of a scoring run in one object, checked before anything loads (torch-free).

The CLI builds one from its flags, `audit()` and `score()` take one, and the audit's
in-progress marker stores `to_dict()` (JSON; never an API key: keys are read from the
environment only). It holds the run's settings (the cache, the shard, the engine) and the
backend's own options object (`model_options`, of the class the backend registered:
backend_options.py), which checks its values when built; an option the backend does not take
is refused when the options are built, as is every run setting (the engine and its numbers, the
shard): an instance is valid. `validate()` is the pre-flight, the checks that look at the machine
(the backend's check of the model string, Ray installed, an unusable score cache), each with one
clear message, without loading a model, so a mistake costs seconds, not a model load.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from typicality.errors import TypicalityError, one_line
from typicality.scoring.backend_options import BackendOptions, flag_name
from typicality.scoring.backends import DEFAULT_BACKEND, BackendSpec, backend_for_model, backend_spec, option_declarations
from typicality.scoring.cache import CACHE_FILE, SCHEMA_COLUMNS
from typicality.scoring.checkpoints import EMBEDDED_NAME
from typicality.scoring.paths import CACHE_ENV

# Where the model runs: in this process, or in actor workers of a Ray cluster (ray_engine.py).
ENGINES = ("local", "ray")
RAY_ONLY = ("ray_address", "workers", "gpus_per_worker", "ray_batch_size")
RAY_INSTALL = "pip install 'typicality[ray]'"


@dataclass(frozen=True)
class ScoringOptions:
    """How to score: the reference model, its backend's options, and how and where the run goes.

    `model`: the embedded "gemma-3-270m", a Hugging Face id, a checkpoint folder, a .gguf file,
    `vllm:MODEL` (the same models run by vLLM's engine in this process, vllm_backend.py), or
    `openai:URL#MODEL` (an OpenAI-compatible completions server). `backend`: a registered
    backend name (None: from the model string's prefix). `model_options`: that backend's options
    (None: its defaults); `ScoringOptions.create(model=..., dtype=...)` builds it from flat
    settings. `check`: run the quick conformance check (check.py) before scoring a model other
    than the embedded one; its result goes into the score card. `engine`: "local" (this process)
    or "ray" (one backend per actor worker of a Ray cluster, see ray_engine.py; the ray_*
    options and `workers`, `gpus_per_worker` apply to it only).
    """

    model: str = EMBEDDED_NAME
    backend: str | None = None
    revision: str | None = None  # the model's hub revision, whatever the backend
    model_options: BackendOptions | None = None
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
        """Options from flat keyword settings: the fields above and the backend's options by name (dtype=..., concurrency=...).

        An unknown name is one clear error, not a TypeError; an option the model's backend does not take is refused.
        """
        own = [field.name for field in dataclasses.fields(cls)]
        declared = option_declarations()
        unknown = sorted(set(settings) - set(own) - set(declared))
        if unknown:
            raise TypicalityError(f"Unknown scoring option(s) {', '.join(unknown)}. Known: {', '.join(own + list(declared))}.")
        chosen = {name: value for name, value in settings.items() if name in declared}
        options = cls(**{name: value for name, value in settings.items() if name not in declared})
        if not chosen:
            return options
        return dataclasses.replace(options, model_options=options._backend_options({**dataclasses.asdict(options.model_options), **chosen}))

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise TypicalityError(f"--model {self.model!r}: give a model name, path or openai:URL#MODEL.")
        spec = self.spec  # an unknown --backend, named
        # Plain JSON types, whatever the caller passed: a Path for the cache, (i, n) for a shard.
        if isinstance(self.cache_dir, Path):
            object.__setattr__(self, "cache_dir", str(self.cache_dir))
        if isinstance(self.shard, (tuple, list)):
            object.__setattr__(self, "shard", "/".join(str(part) for part in self.shard))
        if self.model_options is None:
            object.__setattr__(self, "model_options", spec.options())
        elif type(self.model_options) is not spec.options:  # another backend's options: refused if any is set
            object.__setattr__(self, "model_options", self._backend_options(dataclasses.asdict(self.model_options)))
        self.shard_parts()
        self._check_engine()

    def replace(self, **settings) -> "ScoringOptions":
        """A copy with some settings changed (flat names, as `create`; unknown names refused)."""
        return ScoringOptions.create(**{**self.to_dict(), **settings})

    def to_dict(self) -> dict:
        """JSON-able flat settings (for the audit's in-progress marker and the card): the backend's options in line. Holds no secret."""
        settings = {}
        for field in dataclasses.fields(self):
            if field.name == "model_options":
                settings.update(dataclasses.asdict(self.model_options))
            else:
                settings[field.name] = getattr(self, field.name)
        return settings

    @classmethod
    def from_dict(cls, settings: dict) -> "ScoringOptions":
        return cls.create(**settings)

    @property
    def backend_name(self) -> str:
        return self.backend or backend_for_model(self.model)

    @property
    def spec(self) -> BackendSpec:
        """The registered backend this model runs in (its factory, options class, pre-flight)."""
        return backend_spec(self.backend_name)

    @property
    def is_endpoint(self) -> bool:
        return self.spec.remote

    def backend_options(self) -> dict:
        """The keyword arguments for `load_backend(model, backend, **options)`: the options given, and the revision."""
        return {**self.model_options.given(), **({"revision": self.revision} if self.revision is not None else {})}

    def validate(self, *, loaded: bool = False) -> "ScoringOptions":
        """The pre-flight: refuse what only the machine can show (the backend's check of the model string, Ray
        not installed, an unusable score cache), with one clear message each; loads no model. The settings
        themselves were checked when the options were built.

        `loaded`: the options go with a backend already loaded (its model is settled: no pre-flight).
        """
        if not loaded:
            self.spec.preflight_check(self.model)
        if self.engine == "ray":
            self._check_ray_here(loaded)
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

    def _backend_options(self, settings: dict) -> BackendOptions:
        """The backend's options object from settings by name; a set option the backend does not take is refused, not ignored."""
        spec, names = self.spec, self.spec.options.names()
        misplaced = [name for name in option_declarations() if name not in names and settings.get(name) not in (None, False)]
        if misplaced:
            raise TypicalityError(_misplaced_message(spec, self.model, misplaced))
        return spec.options(**{name: value for name, value in settings.items() if name in names})

    def _check_engine(self) -> None:
        """--engine: one of ENGINES, its numbers whole and positive; ray: its options only with it, and an in-process kind of model."""
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
                flags = ", ".join(flag_name(name) for name in given)
                raise TypicalityError(f"{flags} applies to --engine ray only; add --engine ray or drop it.")
            return
        if self.is_endpoint:
            raise TypicalityError(
                f"--engine ray runs the model in Ray workers; {self.model} is a server that batches requests itself. "
                "Drop --engine ray and raise --concurrency instead."
            )

    def _check_ray_here(self, loaded: bool) -> None:
        """--engine ray: the model not loaded here already, and Ray installed (found, not imported)."""
        if loaded:
            raise TypicalityError(
                "engine='ray' loads the model in the Ray workers, not here: pass the model's name (or ScoringOptions), not a loaded backend."
            )
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise TypicalityError(f"--engine ray needs Ray (with Ray Data), which is not installed here: {RAY_INSTALL}.")


def _misplaced_message(spec: BackendSpec, model: str, misplaced: list[str]) -> str:
    """'--X applies to <the backends that take it> models; drop it or change --model', naming them as the user writes their models."""
    flags = ", ".join(flag_name(name) for name in misplaced)
    homes = [backend_spec(name) for name in dict.fromkeys(home for name in misplaced for home in option_declarations()[name][1])]
    where = " or ".join(home.model_form for home in homes)
    # The default backend's models carry no prefix: say which kind of model that is.
    if any(home.name == DEFAULT_BACKEND for home in homes) and not any(home.remote for home in homes):
        where = f"in-process ({where}) models"
    else:
        where = f"{where} models"
    if spec.remote:
        return f"{flags} applies to {where}, not {spec.model_form}; drop it or change --model (now {model})."
    return f"{flags} applies to {where}; drop it or change --model (now {model})."


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
