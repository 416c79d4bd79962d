"""Scorer fixtures: a tiny random model (fast tests) and the embedded Gemma (slow tests), each loaded once."""

from __future__ import annotations

import pytest

from tests.scoring.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny(tiny_model_dir):
    """The transformers backend on the tiny model (CPU, float32)."""
    from typicality.scoring import load_backend

    return load_backend(str(tiny_model_dir), device="cpu", progress=False)


@pytest.fixture(scope="session")
def gemma():
    """The embedded Gemma 3 270M, converted once into the user's typicality cache and reused across runs."""
    from typicality.scoring import load_backend

    return load_backend("gemma-3-270m", device="cpu", progress=True)
