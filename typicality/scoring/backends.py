"""Scoring backends behind one interface, registered lazily by name (as in lm-evaluation-harness).

Every backend has one entry point, `score_into(requests, cache, fingerprint, progress)`: score
the requests, commit each finished score to the cache as it comes, and return a `ScoringRun`
(the counted skips and the work done). The driver in `runner.py` does everything else (cache
look-ups, sharding, the result table and card) the same way for every backend.

- `TokenizerBackend`: a model with a local tokenizer (the transformers backend). It turns
  requests into token ids (`prepare`, the shared rules of preparation.py), plans length-sorted
  batches under a token budget (`plan`), and scores a batch (`score_batch`); its `score_into`
  drives the three.
  The vLLM backend (`vllm_backend.py`) is one too: the project tokenizes, vLLM's engine computes.
- The endpoint backend (`openai_backend.py`) has no tokenizer: the server tokenizes, so it
  implements `score_into` itself, sending requests concurrently.

The registry maps a name to a `BackendSpec`: a `"module:factory"` string, imported only when that
backend is loaded (so scoring through an endpoint never imports torch), the model prefix that
selects it, its torch-free options class (its CLI flags and their checks, backend_options.py) and
its pre-flight check of a model string. Adding a backend is one module and one `register_backend`
line. A name is registered once; a second registration under the same name is refused.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

from typicality.errors import TypicalityError
from typicality.safe_text import say
from typicality.scoring.backend_options import (
    RESERVED_NAMES,
    BackendOptions,
    OpenAIOptions,
    TransformersOptions,
    VLLMOptions,
    check_local_model,
)
from typicality.scoring.batching import plan_batches
from typicality.scoring.cache import CachedScore
from typicality.scoring.fingerprint import ModelIdentity
from typicality.scoring.requests import Prepared, ScoreRequest, ScoringRun, Skipped, TokenScores, TokenTrace

# Token positions per batch. Speed on CPU is flat from 2,048 to 16,384 (Gemma 3 270M, 40 HH-RLHF
# pairs: 14.4-15.0 s); peak memory grows with it (a batch's activations), so the default is the
# smallest that keeps a GPU's matmuls large.
DEFAULT_BATCH_TOKENS = 4096
# A window above this many tokens makes a response cut to fit it slow to score on a CPU: the cut's message suggests it as --max-length.
SHORT_WINDOW = 2048


class ScoreSink(Protocol):
    """Where `score_into` commits finished scores: a `ScoreCache`, or anything with its `put_many`."""

    def put_many(self, fingerprint: str, scores: dict[str, CachedScore]) -> None: ...


class ScoringBackend(ABC):
    """A reference model that returns per-response log-likelihoods."""

    name: str = ""
    device: str = "cpu"
    # Settings a copy may change without reloading the model (see `configured`).
    light_settings: tuple[str, ...] = ()

    @property
    @abstractmethod
    def identity(self) -> ModelIdentity:
        """Everything that can change a score; its fingerprint keys the cache."""

    @abstractmethod
    def score_into(self, requests: list[ScoreRequest], cache: ScoreSink, fingerprint: str, progress: bool = True) -> ScoringRun:
        """Score every request, committing finished scores to `cache` under `fingerprint` as they come.

        A run stopped by an error or Ctrl-C has committed what it finished, so a re-run resumes.
        """

    @abstractmethod
    def trace(self, requests: list[ScoreRequest]) -> list[TokenTrace | Skipped]:
        """Each request token by token, scored one at a time without the cache (for `typicality check`).

        Computed independently of `score_into`'s batching, so the check can compare the two.
        """

    def describe(self) -> dict:
        """Facts for the score card (device, threads, ...)."""
        return {"device": self.device}

    def configured(self, **settings) -> "ScoringBackend":
        """A copy sharing the loaded model with some light settings changed (e.g. max_length, bos)."""
        unknown = sorted(set(settings) - set(self.light_settings))
        if unknown:
            raise TypicalityError(
                f"Backend '{self.name}' cannot change {', '.join(unknown)} without reloading; "
                f"changeable: {', '.join(self.light_settings)}."
            )
        check_options(self.name, settings)
        clone = copy.copy(self)
        clone._apply_settings(**settings)
        return clone

    def _apply_settings(self, **settings) -> None:
        for key, value in settings.items():
            setattr(self, key, value)


class TokenizerBackend(ScoringBackend):
    """A model scored in-process with its own tokenizer: prepare, plan batches, score each batch."""

    batch_tokens: int = DEFAULT_BATCH_TOKENS  # token positions per batch (see batching.batch_cost)

    @abstractmethod
    def prepare(self, requests: list[ScoreRequest]) -> list[Prepared | Skipped]:
        """Token ids for each request (context, response), or the reason it cannot be scored."""

    @abstractmethod
    def score_batch(self, batch: list[Prepared]) -> list[TokenScores]:
        """Summed log-probabilities of each prepared response, in order."""

    def plan(self, prepared: list[Prepared]) -> list[list[Prepared]]:
        """Length-sorted batches within `batch_tokens`, responses sharing a context kept together."""
        return plan_batches(prepared, self.batch_tokens)

    def describe(self) -> dict:
        return {**super().describe(), "batch_tokens": self.batch_tokens}

    def score_into(self, requests: list[ScoreRequest], cache: ScoreSink, fingerprint: str, progress: bool = True) -> ScoringRun:
        from tqdm.auto import tqdm

        prepared = self.prepare(requests)
        run = ScoringRun(skipped={item.key: item.reason for item in prepared if isinstance(item, Skipped)})
        ready = [item for item in prepared if isinstance(item, Prepared)]
        self._report_cut(requests, ready)
        bar = tqdm(total=len(ready), unit="resp", desc="scoring", disable=not progress or not ready, dynamic_ncols=True)
        try:
            with self.scoring_session():
                self._score_batches(ready, cache, fingerprint, run, bar)
        finally:
            bar.close()
        return run

    def _report_cut(self, requests: list[ScoreRequest], ready: list[Prepared]) -> None:
        """Before any scoring: responses longer than the window, their count and the --max-length fix (on stderr)."""
        cut = {item.key for item in ready if item.truncated}
        if not cut:
            return
        window = getattr(self, "window", None)
        longest = max(len(request.response) for request in requests if request.key in cut)
        faster = (
            f" A full window of {window:,} tokens is slow to score and takes much memory on {self.device}: "
            f"--max-length N (e.g. --max-length {SHORT_WINDOW}) scores every response on at most its first N tokens."
            if window and window > SHORT_WINDOW else ""
        )
        which = "1 response is" if len(cut) == 1 else f"{len(cut):,} responses are"
        each = "it is" if len(cut) == 1 else "each is"
        say(f"typicality: {which} longer than the model's window of {f'{window:,}' if window else 'unknown'} tokens (the longest has {longest:,} "
            f"characters): {each} scored on its beginning only, its tail cut (the score card and the report say so).{faster}", stderr=True)

    def scoring_session(self) -> AbstractContextManager:
        """Held while a run's batches are scored (a backend may tune the process for it; see memory.py)."""
        return nullcontext()

    def _score_batches(self, ready: list[Prepared], cache: ScoreSink, fingerprint: str, run: ScoringRun, bar) -> None:
        for batch in self.plan(ready):
            tick = time.perf_counter()
            scores = self.score_batch(batch)
            cache.put_many(fingerprint, {item.key: _cached(item, s) for item, s in zip(batch, scores)})
            run.seconds += time.perf_counter() - tick
            run.computed += len(batch)
            run.tokens += sum(item.n_positions for item in batch)
            bar.update(len(batch))
            bar.set_postfix_str(f"{run.tokens / run.seconds:,.0f} tok/s")


def _cached(item: Prepared, scores: TokenScores) -> CachedScore:
    return CachedScore(scores.n_tokens, scores.sum_logprob, item.truncated, item.prompt_truncated, item.boundary_merged)


# -- the registry ------------------------------------------------------------------------------

# A backend's factory: factory(model, progress=..., **its given options) -> ScoringBackend.
Factory = Callable[..., ScoringBackend]
# The backend a model string names when it carries no registered prefix, and --backend is not given.
DEFAULT_BACKEND = "transformers"


@dataclass(frozen=True)
class BackendSpec:
    """Everything the package knows about a backend, declared once by `register_backend`.

    `factory` and `preflight` are `"module:function"` strings (imported when first used, so
    naming a backend loads nothing) or callables. `options`: its `BackendOptions` class (its
    flags). `prefix`: model strings starting with it pick this backend (`vllm:`). `model_form`:
    how messages name its models. `remote`: the model runs on a server, not in this process.
    """

    name: str
    factory: str | Factory
    prefix: str | None = None
    options: type[BackendOptions] = BackendOptions
    preflight: str | Callable[[str], object] | None = None
    model_form: str = ""
    remote: bool = False

    def preflight_check(self, model: str) -> None:
        """The backend's cheap checks of a model string before anything loads (a path that exists, an endpoint's form, ...)."""
        if self.preflight is not None:
            _imported(self.name, self.preflight)(model)


BACKENDS: dict[str, BackendSpec] = {}


def register_backend(
    name: str,
    factory: str | Factory,
    *,
    prefix: str | None = None,
    options: type[BackendOptions] = BackendOptions,
    preflight: str | Callable[[str], object] | None = None,
    model_form: str | None = None,
    remote: bool = False,
) -> BackendSpec:
    """Register a backend: its factory, the model prefix that selects it, its options class (its CLI flags) and its pre-flight.

    A name or prefix already registered is refused, so one backend can never silently replace
    another; so is an option that another backend declares differently (one flag, one meaning).
    """
    if name in BACKENDS:
        raise TypicalityError(f"A scoring backend named '{name}' is already registered ({_describe(BACKENDS[name].factory)}); choose another name.")
    for target in (factory, preflight):
        if isinstance(target, str) and (target.count(":") != 1 or not all(target.split(":"))):
            raise TypicalityError(f"Backend '{name}': {target!r} is not a 'module:function' string.")
    if not (isinstance(options, type) and issubclass(options, BackendOptions) and dataclasses.is_dataclass(options)):
        raise TypicalityError(f"Backend '{name}': options must be a dataclass subclassing BackendOptions, got {options!r}.")
    taken = next((spec.name for spec in BACKENDS.values() if prefix and spec.prefix == prefix), None)
    if taken:
        raise TypicalityError(f"Backend '{name}': the model prefix {prefix!r} already selects backend '{taken}'.")
    declared = option_declarations()
    for field in dataclasses.fields(options):
        if field.name in RESERVED_NAMES:
            raise TypicalityError(f"Backend '{name}': option {field.name} is a setting of every run (ScoringOptions); choose another name.")
        known = declared.get(field.name)
        if known is not None and _declaration(known[0]) != _declaration(field):
            raise TypicalityError(
                f"Backend '{name}': option {field.name} is declared otherwise by backend(s) {', '.join(known[1])}; "
                "share their declaration (subclass their options class) or choose another name."
            )
    spec = BackendSpec(name, factory, prefix, options, preflight, model_form or (f"{prefix}MODEL" if prefix else name), remote)
    BACKENDS[name] = spec
    return spec


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def backend_spec(name: str) -> BackendSpec:
    if name not in BACKENDS:
        raise TypicalityError(f"Unknown scoring backend '{name}'. Known backends: {', '.join(backend_names())}.")
    return BACKENDS[name]


def backend_for_model(model: str) -> str:
    """The backend a model string asks for when none is named: the one whose prefix it starts with
    (`openai:URL#MODEL` an endpoint, `vllm:MODEL` vLLM's engine in this process), else transformers."""
    model = str(model)
    return next((spec.name for spec in BACKENDS.values() if spec.prefix and model.startswith(spec.prefix)), DEFAULT_BACKEND)


def option_declarations() -> dict[str, tuple[dataclasses.Field, list[str]]]:
    """Every registered backend option: name -> (its one declaration, the backends that take it), in registration order."""
    declared: dict[str, tuple[dataclasses.Field, list[str]]] = {}
    for spec in BACKENDS.values():
        for field in dataclasses.fields(spec.options):
            declared.setdefault(field.name, (field, []))[1].append(spec.name)
    return declared


def load_backend(model: str = "gemma-3-270m", backend: str | None = None, **options) -> ScoringBackend:
    """Load a model into a backend once; pass the result to `score()` to reuse it.

    `backend`: a registered name (default: from the model string, see `backend_for_model`).
    `options`: the backend's options (checked by its options class) and its factory's other keywords (progress, ...).
    """
    spec = backend_spec(backend or backend_for_model(model))
    check_options(spec.name, options)
    return _imported(spec.name, spec.factory)(model, **options)


def check_options(backend: str, settings: dict) -> None:
    """Refuse an invalid value of any of the backend's declared options among `settings` (its options class checks them)."""
    spec = BACKENDS.get(backend)
    if spec is not None:
        names = spec.options.names()
        spec.options(**{name: value for name, value in settings.items() if name in names})


def _imported(name: str, target: str | Callable) -> Callable:
    if callable(target):
        return target
    module_name, function_name = target.split(":")
    try:
        return getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise TypicalityError(f"Scoring backend '{name}' ({target}) cannot be imported: {type(error).__name__}: {error}") from error


def _describe(factory: str | Callable) -> str:
    return factory if isinstance(factory, str) else f"{factory.__module__}.{factory.__qualname__}"


def _declaration(field: dataclasses.Field) -> tuple:
    return (str(field.type), field.default, dict(field.metadata))


register_backend(
    "transformers", "typicality.scoring.transformers_backend:load_transformers_backend",
    options=TransformersOptions, preflight=check_local_model,
)
register_backend(
    "openai", "typicality.scoring.openai_backend:load_openai_backend",
    prefix="openai:", options=OpenAIOptions, preflight="typicality.scoring.openai_client:parse_endpoint", model_form="openai:URL#MODEL", remote=True,
)
register_backend(
    "vllm", "typicality.scoring.vllm_backend:load_vllm_backend",
    prefix="vllm:", options=VLLMOptions, preflight="typicality.scoring.vllm_backend:preflight",
)
