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


@pytest.fixture(scope="session")
def vllm_engine():
    """vLLM's engine on the embedded model, in this process, eager (no torch.compile: it starts in about a minute).

    Skips with the reason where vLLM is not installed (`make test` runs the vLLM modules in .venv-vllm).
    """
    from tests.scoring.vllm_server import MAX_MODEL_LEN, require_vllm
    from typicality.scoring import load_backend

    require_vllm()
    backend = load_backend("vllm:gemma-3-270m", max_length=MAX_MODEL_LEN, enforce_eager=True, progress=False)
    yield backend
    backend.close()
