"""An OpenAI-compatible server in a subprocess on loopback, for the tests and benchmarks: a free port, a
bounded start (ready when GET /models answers), SIGKILL, a graceful stop, and the log's tail for errors.

llama_server.py (llama-cpp-python's server) and vllm_server.py (`vllm serve`) say only what differs:
the command line, and whether the server starts processes of its own (vLLM's engine core), which
are then signalled as one process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """A server started by `start()`; subclasses give `label`, `command` and, where needed, `environment`/`cwd`."""

    label = "server"
    poll_s = 0.25  # between readiness probes
    own_process_group = False  # True: the server starts children; kill and stop signal the whole group
    cwd: Path | None = None

    def __init__(self, log_path: Path, port: int | None = None):
        self.log_path = log_path
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.start_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(self, ready_within_s: float = 180.0):
        """Start the server and wait (bounded) until it answers; its log's tail in the error otherwise."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, env=self.environment(), cwd=self.cwd,
                start_new_session=self.own_process_group,
            )
        started = time.monotonic()
        while time.monotonic() - started < ready_within_s:  # imports, weights, warm-up
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/models", timeout=2).status_code == 200:
                    self.start_seconds = time.monotonic() - started
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(self.poll_s)
        self.kill()
        raise RuntimeError(f"{self.label} not ready within {ready_within_s:.0f} s:\n{self.log_tail()}")

    def _signal(self, signum: int) -> None:
        try:
            if self.own_process_group:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL, as a crash would (a later `start()` reuses the port)."""
        if self.process is not None:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self, grace_s: float = 60.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`; with a process group, also whatever the server left behind."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
