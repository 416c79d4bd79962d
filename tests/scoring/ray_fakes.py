"""A backend for the Ray engine's failure tests: known scores, a response that raises, one that kills its worker.

Loaded by name in the Ray workers ("tests.scoring.ray_fakes:load_flaky"), so it must stay importable from the repository root.
"""

from __future__ import annotations

import os

from typicality.scoring.backends import ScoringBackend
from typicality.scoring.cache import CachedScore
from typicality.scoring.fingerprint import ModelIdentity
from typicality.scoring.requests import ScoringRun

RAISES = "RAISE"  # a response containing this raises in every batch it is in
KILLS = "KILL"  # a response containing this ends its worker's process in every batch it is in


def known_score(response: str) -> CachedScore:
    """The fake model's score: one token per character, -1 nat each."""
    return CachedScore(len(response), -float(len(response)), False, False, False)


class FlakyBackend(ScoringBackend):
    name = "ray-test-flaky"

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity("flaky", "none", self.name, "float32", False, False, 4096)

    def score_into(self, requests, cache, fingerprint, progress=True) -> ScoringRun:
        if any(KILLS in request.response for request in requests):
            os._exit(1)  # as a segfault or the kernel's OOM killer would: no exception, no clean-up
        if any(RAISES in request.response for request in requests):
            raise RuntimeError("this batch cannot be scored")
        cache.put_many(fingerprint, {request.key: known_score(request.response) for request in requests})
        return ScoringRun(computed=len(requests), tokens=sum(len(request.response) for request in requests))

    def trace(self, requests):
        raise NotImplementedError


def load_flaky(model: str, **options) -> FlakyBackend:
    return FlakyBackend()
