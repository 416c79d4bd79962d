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

The registry maps a name to a `"module:factory"` string and imports the module only when that
backend is loaded, so scoring through an endpoint never imports torch. A name is registered once;
a second registration under the same name is refused.
"""

from __future__ import annotations

import copy
import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from typicality.errors import TypicalityError
from typicality.safe_text import say
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

# name -> "module:factory" (imported on first use) or the factory itself; factory(model, **options).
BACKENDS: dict[str, str | Callable[..., ScoringBackend]] = {}


def register_backend(name: str, factory: str | Callable[..., ScoringBackend]) -> None:
    """Register a backend factory under `name`: a `"module:function"` string (imported when first loaded) or a callable.

    A name already registered is refused, so one backend can never silently replace another.
    """
    if name in BACKENDS:
        raise TypicalityError(f"A scoring backend named '{name}' is already registered ({_describe(BACKENDS[name])}); choose another name.")
    if isinstance(factory, str) and (factory.count(":") != 1 or not all(factory.split(":"))):
        raise TypicalityError(f"Backend '{name}': {factory!r} is not a 'module:function' string.")
    BACKENDS[name] = factory


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def backend_for_model(model: str) -> str:
    """The backend a model string asks for when none is named: `openai:URL#MODEL` is an endpoint, `vllm:MODEL`
    vLLM's engine in this process, anything else transformers."""
    model = str(model)
    if model.startswith("openai:"):
        return "openai"
    return "vllm" if model.startswith("vllm:") else "transformers"


def load_backend(model: str = "gemma-3-270m", backend: str | None = None, **options) -> ScoringBackend:
    """Load a model into a backend once; pass the result to `score()` to reuse it.

    `backend`: a registered name (default: from the model string, see `backend_for_model`).
    """
    backend = backend or backend_for_model(model)
    if backend not in BACKENDS:
        raise TypicalityError(f"Unknown scoring backend '{backend}'. Known backends: {', '.join(backend_names())}.")
    return _factory(backend)(model, **options)


def _factory(name: str) -> Callable[..., ScoringBackend]:
    target = BACKENDS[name]
    if callable(target):
        return target
    module_name, function_name = target.split(":")
    try:
        return getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise TypicalityError(f"Scoring backend '{name}' ({target}) cannot be imported: {type(error).__name__}: {error}") from error


def _describe(factory: str | Callable) -> str:
    return factory if isinstance(factory, str) else f"{factory.__module__}.{factory.__qualname__}"


register_backend("transformers", "typicality.scoring.transformers_backend:load_transformers_backend")
register_backend("openai", "typicality.scoring.openai_backend:load_openai_backend")
register_backend("vllm", "typicality.scoring.vllm_backend:load_vllm_backend")
