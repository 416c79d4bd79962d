"""A real OpenAI-compatible server for the tests: llama-cpp-python's, on loopback, with the embedded Gemma GGUF."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.scoring.server_process import ServerProcess

ALIAS = "gemma-3-270m-q4_k_m"
REPO_ROOT = Path(__file__).resolve().parents[2]  # `-m tests.scoring.llama_server_main` runs from here


class LlamaServer(ServerProcess):
    """`python -m llama_cpp.server` in a subprocess; `kill()` is SIGKILL, `start()` again reuses the port."""

    label = "llama_cpp.server"
    cwd = REPO_ROOT

    def __init__(self, gguf: Path, log_path: Path, *, alias: str = ALIAS, n_ctx: int = 1024, port: int | None = None):
        super().__init__(log_path, port)
        self.gguf = gguf
        self.alias = alias
        self.n_ctx = n_ctx

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "tests.scoring.llama_server_main",  # llama_cpp.server, see there
            "--model", str(self.gguf), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--n_threads", "2", "--n_batch", "512",
            "--logits_all", "true",  # echo=true with logprobs needs every position's logits
        ]
