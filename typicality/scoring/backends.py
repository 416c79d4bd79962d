"""Scoring backends behind one small interface, registered by name (as in lm-evaluation-harness).

A backend turns requests into token ids (`prepare`) and scores prepared batches
(`score_batch`); the driver in `runner.py` does everything else (cache, batching, progress,
the result table), the same way for every backend.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable

from typicality.errors import TypicalityError
from typicality.scoring.fingerprint import ModelIdentity
from typicality.scoring.requests import Prepared, ScoreRequest, Skipped, TokenScores


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
    def prepare(self, requests: list[ScoreRequest]) -> list[Prepared | Skipped]:
        """Token ids for each request (context, response), or the reason it cannot be scored."""

    @abstractmethod
    def score_batch(self, batch: list[Prepared]) -> list[TokenScores]:
        """Summed log-probabilities of each prepared response, in order."""

    def describe(self) -> dict:
        """Extra facts for the score card (device, threads, ...)."""
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


BACKENDS: dict[str, Callable[..., ScoringBackend]] = {}


def register_backend(name: str) -> Callable:
    """Decorator: register a backend factory `factory(model, **options)` under `name`."""

    def decorate(factory: Callable[..., ScoringBackend]) -> Callable[..., ScoringBackend]:
        BACKENDS[name] = factory
        return factory

    return decorate


def load_backend(model: str = "gemma-3-270m", backend: str = "transformers", **options) -> ScoringBackend:
    """Load a model into a backend once; pass the result to `score()` to reuse it."""
    _import_backends()
    if backend not in BACKENDS:
        raise TypicalityError(f"Unknown scoring backend '{backend}'. Known backends: {', '.join(sorted(BACKENDS))}.")
    return BACKENDS[backend](model, **options)


def _import_backends() -> None:
    """Importing a backend module registers it."""
    import typicality.scoring.openai_backend  # noqa: F401
    import typicality.scoring.transformers_backend  # noqa: F401
