"""HTTP access to an OpenAI-compatible completions server: retries, timeouts, clear errors.

Transient failures (429, any 5xx, a dropped or refused connection, a timeout) are retried
with capped exponential backoff and full jitter, honouring `Retry-After`; anything else is
the user's to fix and becomes one `TypicalityError` naming the endpoint and what to change.
The API key comes from an environment variable and is never logged or put in a message.
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from typicality.errors import TypicalityError

API_KEY_VARIABLES = ("TYPICALITY_API_KEY", "OPENAI_API_KEY")
RETRY_STATUSES = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class Endpoint:
    """Where to send requests: the API root (ending in /v1 as a rule) and the served model name."""

    base_url: str
    model: str

    @property
    def spec(self) -> str:
        return f"openai:{self.base_url}#{self.model}"


def parse_endpoint(spec: str) -> Endpoint:
    """`openai:http://host:8000/v1#org/model-name` -> Endpoint; a clear error for anything else."""
    example = "--model openai:http://127.0.0.1:8000/v1#meta-llama/Llama-3.1-405B"
    if not spec.startswith("openai:"):
        raise TypicalityError(f"model {spec!r} is not an endpoint spec; write {example}")
    url, sep, model = spec[len("openai:"):].partition("#")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TypicalityError(f"model {spec!r}: {url!r} is not an http(s) URL; write {example}")
    if parts.username or parts.password:
        raise TypicalityError(f"model {spec!r}: do not put credentials in the URL; set {API_KEY_VARIABLES[0]} in the environment instead")
    if not sep or not model.strip():
        raise TypicalityError(f"model {spec!r}: the served model name is missing after '#'; write {example}")
    return Endpoint(base_url=url.rstrip("/"), model=model.strip())


def api_key_from_environment() -> str | None:
    """The first of TYPICALITY_API_KEY, OPENAI_API_KEY that is set (local servers need none)."""
    for name in API_KEY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class TransientError(Exception):
    """A failure worth retrying (overload, server error, dropped connection)."""


class RequestRejected(Exception):
    """The server answered a 4xx that retrying will not change; carries status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass
class RetryPolicy:
    """Capped exponential backoff with full jitter: sleep ~ U(0, min(cap, base * 2**attempt))."""

    max_retries: int = 8
    base_s: float = 0.5
    cap_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * 2**attempt)
        jittered = self.rng.uniform(0.0, ceiling)
        # A server that says when to come back knows better than our guess, within the cap.
        return max(jittered, min(retry_after, self.cap_s)) if retry_after is not None else jittered


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason or ""
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)[:500]
    return str(error)[:500]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class CompletionsClient:
    """Thread-safe POSTs to one endpoint, one `requests.Session` per thread (sessions are not shared safely)."""

    def __init__(self, endpoint: Endpoint, *, timeout_s: float = 120.0, retry: RetryPolicy | None = None, api_key: str | None = None):
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._api_key = api_key
        self._local = threading.local()
        self.retries_done = 0  # transient failures retried, for the run card
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # set when a run stops: retry loops give up at once

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Content-Type"] = "application/json"
            if self._api_key:
                session.headers["Authorization"] = f"Bearer {self._api_key}"
            self._local.session = session
        return session

    def _once(self, method: str, path: str, payload: dict | None, timeout_s: float) -> dict:
        url = f"{self.endpoint.base_url}/{path.lstrip('/')}"
        try:
            response = self._session().request(method, url, json=payload, timeout=timeout_s)
        except TRANSIENT_ERRORS as error:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        if response.status_code in RETRY_STATUSES:
            error = TransientError(f"HTTP {response.status_code}: {_error_message(response)}")
            error.retry_after = _retry_after(response)
            raise error
        if response.status_code >= 400:
            raise RequestRejected(response.status_code, _error_message(response))
        try:
            return response.json()
        except ValueError:
            raise TransientError(f"HTTP {response.status_code} with a body that is not JSON") from None

    def request(self, method: str, path: str, payload: dict | None = None, *, max_retries: int | None = None, timeout_s: float | None = None) -> dict:
        """One call, retried on transient failures; raises RequestRejected (4xx) or TypicalityError (retries spent)."""
        retries = self.retry.max_retries if max_retries is None else max_retries
        attempt = 0
        while True:
            try:
                return self._once(method, path, payload, timeout_s or self.timeout_s)
            except TransientError as error:
                if attempt >= retries:
                    raise TypicalityError(
                        f"endpoint {self.endpoint.base_url} still failing after {attempt + 1} attempts ({error}); "
                        "check that the server is up and not overloaded (lower --concurrency or raise --timeout), then re-run: "
                        "scores already computed are cached and will not be requested again"
                    ) from None
                if self.stopping.wait(self.retry.delay(attempt, getattr(error, "retry_after", None))):
                    raise TypicalityError(f"endpoint {self.endpoint.base_url}: run stopped while retrying ({error})") from None
                attempt += 1
                with self._lock:
                    self.retries_done += 1

    def check(self) -> dict | None:
        """Before a run: is the server there, does it accept our key, does it serve the model? One clear message if not.

        Returns the model's entry from GET /models where the server lists it (vLLM adds
        `max_model_len` and `root` there), None where it has no such listing.
        """
        where = self.endpoint.base_url
        try:
            listing = self.request("GET", "models", max_retries=2, timeout_s=min(self.timeout_s, 30.0))
        except TypicalityError:
            raise TypicalityError(
                f"cannot reach an OpenAI-compatible server at {where}: is it running, and is the URL right "
                f"(the API root, usually ending in /v1)? Fix the URL in --model openai:URL#MODEL"
            ) from None
        except RequestRejected as rejected:
            if rejected.status in (401, 403):
                raise TypicalityError(
                    f"endpoint {where} refused the request (HTTP {rejected.status}: {rejected.message}); "
                    f"set the API key in the environment variable {API_KEY_VARIABLES[0]} (or {API_KEY_VARIABLES[1]})"
                ) from None
            if rejected.status == 404:
                raise TypicalityError(
                    f"{where}/models does not exist (HTTP 404): {where} is not the root of an OpenAI-compatible API; "
                    "the URL usually ends in /v1, e.g. openai:http://127.0.0.1:8000/v1#MODEL"
                ) from None
            return None  # some hosted providers do not list models; the first completion will tell
        models = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(models, list):
            return None
        names = [str(entry.get("id")) for entry in models if isinstance(entry, dict)]
        for entry in models:
            if isinstance(entry, dict) and entry.get("id") == self.endpoint.model:
                return entry
        if names:
            shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
            raise TypicalityError(
                f"endpoint {where} does not serve a model named {self.endpoint.model!r}; it serves: {shown}. "
                f"Put one of these after '#' in --model openai:{where}#MODEL"
            )
        return None
