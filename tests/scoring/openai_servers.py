"""Loopback servers for the endpoint-backend tests: a scripted fake and a fault-injecting proxy.

`FakeCompletionsServer` answers `/v1/completions` like vLLM does, with one token per
character, so every expected score is a hand-computable sum: token `c` at any position has
log-probability `char_logprob(c)`, the echoed BOS "<s>" sits at offset 0 with no
log-probability (as vLLM echoes a BOS), and `max_tokens=1` appends one generated token.
Misbehaviours seen in real servers can be switched on, for `typicality check`: `echo="refuse"`
(mainline llama.cpp answers 400 "Only no echo is supported"), `echo="generated-only"` (log-probabilities
of the generated token only), `prefix_cache_drift` (a repeated text comes back with shifted
log-probabilities, as with vLLM's prefix cache in some versions), `served_as` (the answer names
another model), `bos_count=2` (a doubled BOS).
`FaultProxy` forwards to any upstream server but first answers HTTP 500 (or drops the
connection) for a set number of completion requests, and counts what it saw.
Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

BOS = "<s>"


def char_logprob(char: str) -> float:
    """The fake model's log-probability of a one-character token: a fixed function of the character."""
    return -0.25 - (ord(char) % 13) / 4.0


class _Server:
    def __init__(self, handler_class):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class _JsonHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def send_json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")


class FakeCompletionsServer(_Server):
    """A vLLM-like completions server whose 'model' scores each character independently."""

    def __init__(
        self,
        model: str = "fake-model",
        *,
        reject_max_tokens_zero: bool = False,
        context_window: int | None = None,
        api_key: str | None = None,
        echo: str = "full",
        prefix_cache_drift: float = 0.0,
        served_as: str | None = None,
        bos_count: int = 1,
    ):
        super().__init__(_FakeHandler)
        self.model = model
        self.echo = echo
        self.prefix_cache_drift = prefix_cache_drift
        self.served_as = served_as
        self.bos_count = bos_count
        self.seen: set[str] = set()
        self.reject_max_tokens_zero = reject_max_tokens_zero
        self.context_window = context_window
        self.api_key = api_key
        self.prompts: list[str] = []
        self.auth_headers: list[str | None] = []


class _FakeHandler(_JsonHandler):
    def do_GET(self):
        server: FakeCompletionsServer = self.server.owner
        server.count("GET " + self.path)
        if self.path != "/v1/models":
            return self.send_json(404, {"detail": "Not Found"})
        return self.send_json(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})

    def do_POST(self):
        server: FakeCompletionsServer = self.server.owner
        server.count("POST " + self.path)
        if self.path != "/v1/completions":
            return self.send_json(404, {"detail": "Not Found"})
        with server.lock:
            server.auth_headers.append(self.headers.get("Authorization"))
        if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
            return self.send_json(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
        body = self.read_json()
        if body.get("model") != server.model:
            return self.send_json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist.", "type": "NotFoundError"}})
        max_tokens = int(body.get("max_tokens", 16))
        if max_tokens == 0 and server.reject_max_tokens_zero:
            return self.send_json(400, {"error": {"message": "max_tokens must be at least 1, got 0.", "type": "BadRequestError"}})
        if body.get("echo") and server.echo == "refuse":
            return self.send_json(400, {"error": {"code": 400, "message": "Only no echo is supported", "type": "invalid_request_error"}})
        text = body["prompt"]
        n_prompt = server.bos_count + len(text)  # BOS + one token per character
        if server.context_window is not None and n_prompt + max_tokens > server.context_window:
            return self.send_json(400, {"error": {"message": (
                f"This model's maximum context length is {server.context_window} tokens. However, you requested "
                f"{n_prompt + max_tokens} tokens ({n_prompt} in the messages, {max_tokens} in the completion). "
                "Please reduce the length of the messages or completion."), "type": "BadRequestError"}})
        with server.lock:
            server.prompts.append(text)
            repeated = text in server.seen
            server.seen.add(text)
        drift = server.prefix_cache_drift if repeated else 0.0
        generated = "!" if max_tokens >= 1 else ""
        tokens = [BOS] * server.bos_count + [*text, *generated]
        values = [None] * server.bos_count + [*(char_logprob(c) + drift for c in text), *(char_logprob(c) for c in generated)]
        if server.echo == "generated-only":
            text, tokens, values = "", tokens[len(tokens) - len(generated):], values[len(values) - len(generated):]
        offsets, position = [], 0
        for token in tokens:  # vLLM's rule: each offset is the previous one plus the previous token's length
            offsets.append(position)
            position += len(token)
        return self.send_json(200, {
            "id": "cmpl-fake", "object": "text_completion", "model": server.served_as or server.model,
            "choices": [{"index": 0, "text": text + generated, "finish_reason": "length",
                         "logprobs": {"tokens": tokens, "token_logprobs": values, "text_offset": offsets,
                                      "top_logprobs": [None] + [{t: v} for t, v in zip(tokens[1:], values[1:])]}}],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": len(generated), "total_tokens": n_prompt + len(generated)},
        })


class FaultProxy(_Server):
    """Forward to `upstream` (an API root ending in /v1), failing `failures` completion requests after the first `after`.

    mode "500" answers HTTP 500; mode "drop" closes the connection without an answer.
    """

    def __init__(self, upstream: str, failures: int = 0, mode: str = "500", after: int = 0):
        super().__init__(_ProxyHandler)
        self.upstream = upstream.rstrip("/")
        self.failures_left = failures
        self.mode = mode
        self.after = after  # forward this many completion requests before the failures start
        self.forwarded = 0
        self.admitted = 0

    def take_failure(self) -> bool:
        with self.lock:
            if self.admitted >= self.after and self.failures_left > 0:
                self.failures_left -= 1
                return True
            self.admitted += 1
            return False


class _ProxyHandler(_JsonHandler):
    def _forward(self, method: str):
        proxy: FaultProxy = self.server.owner
        proxy.count(f"{method} {self.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else None
        if method == "POST" and self.path.endswith("/completions") and proxy.take_failure():
            if proxy.mode == "drop":
                self.close_connection = True
                self.connection.close()
                return
            return self.send_json(500, {"error": {"message": "injected failure", "type": "InternalServerError"}})
        target = proxy.upstream + self.path[len("/v1"):]
        try:
            answer = requests.request(method, target, data=body, headers={"Content-Type": "application/json"}, timeout=120)
        except requests.ConnectionError:
            return self.send_json(502, {"error": {"message": "upstream unreachable", "type": "BadGateway"}})
        with proxy.lock:
            proxy.forwarded += method == "POST"
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def do_GET(self):
        self._forward("GET")

    def do_POST(self):
        self._forward("POST")
