"""A real OpenAI-compatible server for the tests: llama-cpp-python's, on loopback, with the embedded Gemma GGUF."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ALIAS = "gemma-3-270m-q4_k_m"
REPO_ROOT = Path(__file__).resolve().parents[2]  # `-m tests.scoring.llama_server_main` runs from here


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LlamaServer:
    """`python -m llama_cpp.server` in a subprocess; `kill()` is SIGKILL, `start()` again reuses the port."""

    def __init__(self, gguf: Path, log_path: Path, *, alias: str = ALIAS, n_ctx: int = 1024, port: int | None = None):
        self.gguf = gguf
        self.log_path = log_path
        self.alias = alias
        self.n_ctx = n_ctx
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, ready_within_s: float = 180.0) -> "LlamaServer":
        command = [
            sys.executable, "-m", "tests.scoring.llama_server_main",  # llama_cpp.server, see there
            "--model", str(self.gguf), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", "2", "--n_batch", "512",
            "--logits_all", "true",  # echo=true with logprobs needs every position's logits
        ]
        log = open(self.log_path, "ab")
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=REPO_ROOT)
        log.close()
        deadline = time.monotonic() + ready_within_s
        while time.monotonic() < deadline:  # bounded wait for the model to load
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        self.kill()
        raise RuntimeError(f"llama_cpp.server not ready within {ready_within_s:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
