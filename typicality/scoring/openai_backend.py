"""Scoring through an OpenAI-compatible completions server (vLLM, llama.cpp's server, hosted base models).

Model spec: `openai:URL#MODEL`, e.g. `openai:http://127.0.0.1:8000/v1#meta-llama/Llama-3.1-405B`.
Each response costs one `POST /v1/completions` of `prompt + response` with `echo=true,
logprobs=1, temperature=0` and `max_tokens=1` by default: every server accepts 1, while 0
is rejected by some and read as "no limit" by llama-cpp-python; the one generated token is
dropped (`max_tokens=0` is an option for servers that honour it, such as vLLM, and falls back
to 1 by itself where it is refused or ignored). The server tokenizes, with its own BOS
policy; the response is cut out of the echo by `openai_echo.split_echo`.

Requests run `concurrency` at a time in threads (the work is waiting on the network); every
finished score goes to the same cache as the in-process scorer, keyed with the endpoint's
model name (not its URL, so a moved server or a job array's nodes share scores). A run
that stops for any reason keeps what it finished; a re-run sends no request for it.
"""

from __future__ import annotations

import inspect
import math
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from typicality.errors import TypicalityError
from typicality.safe_text import printable
from typicality.scoring.backends import ScoreSink, ScoringBackend
from typicality.scoring.cache import CachedScore
from typicality.scoring.fingerprint import ModelIdentity
from typicality.scoring.openai_client import CompletionsClient, RequestRejected, RetryPolicy, api_key_from_environment, parse_endpoint
from typicality.scoring.openai_echo import EchoMismatch, completion_payload, split_echo
from typicality.scoring.preparation import NO_TOKENS, skip_reason
from typicality.scoring.requests import ScoreRequest, ScoringRun, Skipped, TokenTrace

BACKEND_NAME = "openai"
ECHO_MISMATCH = "endpoint offsets do not index the text"
FIRST_TOKEN_UNSCORED = "first response token has no log-probability"
MAX_CUTS = 8  # context-length rejections answered by cutting the prompt, per response
STOP_GRACE_S = 5.0  # when a run stops, how long requests already on the wire may still finish
_CONTEXT_ERROR = re.compile(r"context length|context window|too long|maximum context|max_model_len", re.IGNORECASE)
_MAX_CONTEXT = re.compile(r"maximum context length is (\d+)", re.IGNORECASE)
_REQUESTED = re.compile(r"(?:requested|has|contains) (\d+) (?:input )?tokens", re.IGNORECASE)


@dataclass
class EndpointStats:
    """What the run cost, for the score card and the progress bar."""

    requests: int = 0  # answered completion requests (retries not included)
    server_tokens: int = 0  # tokens the server processed (echoed prompt + generated)
    prompt_cuts: int = 0  # extra requests after a context-length rejection
    first_token_unscored: int = 0
    started: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, tokens: int, cuts: int, unscored: int) -> None:
        with self.lock:
            self.requests += 1 + cuts
            self.server_tokens += tokens
            self.prompt_cuts += cuts
            self.first_token_unscored += unscored

    def rates(self) -> tuple[float, float]:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        return self.requests / elapsed, self.server_tokens / elapsed


class OpenAICompletionsBackend(ScoringBackend):
    """Scores texts on a remote server, which tokenizes them: `score_into` sends whole texts, `concurrency` at a time."""

    name = BACKEND_NAME
    light_settings = ("concurrency",)
    commit_every = 64  # finished scores per cache commit ...
    commit_seconds = 1.0  # ... or this often, whichever comes first

    def __init__(
        self,
        spec: str,
        *,
        concurrency: int = 8,
        timeout_s: float = 300.0,
        max_retries: int = 8,
        max_tokens: int = 1,
        revision: str | None = None,
        check: bool = True,
        retry: RetryPolicy | None = None,
    ):
        if concurrency < 1:
            raise TypicalityError(f"--concurrency {concurrency}: need at least 1 request in flight")
        if max_tokens not in (0, 1):
            raise TypicalityError(f"max_tokens={max_tokens}: use 0 (servers that honour it, e.g. vLLM) or 1 (any server)")
        self.endpoint = parse_endpoint(spec)
        self.device = self.endpoint.base_url
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.revision = revision or "served"  # a free tag (e.g. "fp8") for weights served under an unchanged name
        self.client = CompletionsClient(
            self.endpoint, timeout_s=timeout_s, retry=retry or RetryPolicy(max_retries=max_retries), api_key=api_key_from_environment()
        )
        self.listing = self.client.check() if check else None
        self.window = int(self.listing.get("max_model_len") or 0) if self.listing else 0
        self._lock = threading.Lock()

    @property
    def identity(self) -> ModelIdentity:
        # The served name keys the cache, never the URL (a moved server keeps its scores) nor the key.
        # BOS: the server's tokenizer decides (vLLM and llama.cpp add the model's BOS).
        return ModelIdentity(
            name=self.endpoint.model, revision=self.revision, backend=BACKEND_NAME, dtype="served",
            bos=True, chat_template=False, window=self.window,
        )

    def describe(self) -> dict:
        return {
            "device": "remote",
            "endpoint": self.endpoint.base_url,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "max_tokens": self.max_tokens,
        }

    def score_into(self, requests: list[ScoreRequest], cache: ScoreSink, fingerprint: str, progress: bool = True) -> ScoringRun:
        """Score each request on the server, `concurrency` at a time, committing finished scores in small batches.

        A batch goes to the cache every `commit_every` scores or `commit_seconds`, whichever comes
        first, so a killed client loses at most about a second of answers. On any error, the
        scores finished so far are committed before it propagates.
        """
        from tqdm.auto import tqdm

        stats = EndpointStats()
        retries_before = self.client.retries_done
        committer = _Committer(cache, fingerprint, self.commit_every, self.commit_seconds)
        bar = tqdm(total=len(requests), unit="resp", desc=printable(f"scoring on {self.endpoint.model}"), disable=not progress or not requests, file=sys.stderr)

        def advance() -> None:
            bar.update(1)
            requests_per_s, tokens_per_s = stats.rates()
            bar.set_postfix_str(f"{requests_per_s:.1f} req/s, {tokens_per_s:,.0f} tok/s, {self.client.retries_done} retries")

        try:
            outcomes = _run_concurrently(
                requests, lambda request: self._score_one(request, stats), self.concurrency, self.client.stopping, committer, advance
            )
        finally:
            bar.close()
        requests_per_s, _ = stats.rates()
        return ScoringRun(
            skipped={key: item.reason for key, item in outcomes.items() if isinstance(item, Skipped)},
            computed=sum(isinstance(item, CachedScore) for item in outcomes.values()),
            seconds=time.perf_counter() - stats.started,
            tokens=stats.server_tokens,
            facts={
                "requests": stats.requests,
                "retries": self.client.retries_done - retries_before,
                "prompt_cuts": stats.prompt_cuts,
                "server_tokens": stats.server_tokens,
                "first_token_unscored": stats.first_token_unscored,
                "requests_per_s": round(requests_per_s, 2),
            },
        )

    def trace(self, requests: list[ScoreRequest]) -> list[TokenTrace | Skipped]:
        """Each request's echo, one request at a time, token by token.

        A refusal or an answer that cannot be cut raises (RequestRejected, EchoMismatch):
        the check reports it as a failed echo rather than a skipped item.
        """
        traces: list[TokenTrace | Skipped] = []
        for request in requests:
            reason = skip_reason(request)
            if reason:
                traces.append(Skipped(request.key, reason))
                continue
            text = request.prompt + request.response
            answer = self._complete(text)
            echoed = split_echo(answer, text, len(request.prompt))
            count = len(echoed.offsets)
            starts = list(echoed.offsets)
            ends = [next((o for o in starts[i + 1 :] if o >= 0), len(text)) for i in range(count)]
            tokens = answer["choices"][0]["logprobs"]["tokens"][:count]
            traces.append(TokenTrace(
                text=text,
                boundary=len(request.prompt),
                tokens=tuple(str(token) for token in tokens),
                spans=tuple(None if starts[i] < 0 else (starts[i], ends[i]) for i in range(count)),
                logprobs=tuple(echoed.logprobs),
                response_start=echoed.response_start,
                boundary_merged=echoed.spanning,
                n_leading_special=echoed.first_text_token,
                facts={
                    "served_model": answer.get("model"),
                    "leading_special_tokens": [str(t) for t in tokens[: echoed.first_text_token]],
                    "token_strings_are_text": True,  # echoed tokens are text, so their offsets can be checked
                },
            ))
        return traces

    def _score_one(self, request: ScoreRequest, stats: EndpointStats) -> CachedScore | Skipped:
        reason = skip_reason(request)
        if reason:
            return Skipped(request.key, reason)
        prompt, response = request.prompt, request.response
        prompt_truncated = truncated = False
        for cuts in range(MAX_CUTS + 1):
            text = prompt + response
            try:
                answer = self._complete(text)
            except RequestRejected as rejected:
                overflow = _context_overflow(rejected)
                if overflow is None or cuts == MAX_CUTS:
                    raise self._rejection_error(rejected, request) from None
                # Cut the prompt from the left (never the response), in proportion to the overflow.
                excess = math.ceil(len(text) * overflow * 1.1) + 1
                if excess <= len(prompt):
                    prompt, prompt_truncated = prompt[excess:], True
                else:
                    response = response[: max(1, len(response) - (excess - len(prompt)))]
                    prompt, prompt_truncated, truncated = "", bool(request.prompt), True
                continue
            try:
                cut = split_echo(answer, text, len(prompt))
            except EchoMismatch:
                stats.add(0, cuts, 0)
                return Skipped(request.key, ECHO_MISMATCH)
            values = cut.logprobs[cut.response_start:]
            scored = [value for value in values if value is not None]
            unscored = len(values) - len(scored)  # only the text's very first token can lack one
            stats.add(cut.n_server_tokens, cuts, unscored)
            if not scored:
                return Skipped(request.key, NO_TOKENS if not unscored else FIRST_TOKEN_UNSCORED)
            return CachedScore(len(scored), float(sum(scored)), truncated, prompt_truncated, cut.spanning)
        raise AssertionError("unreachable")

    def _complete(self, text: str) -> dict:
        """One echo request; falls back to max_tokens=1 (for good) where 0 is refused or ignored."""
        max_tokens = self.max_tokens
        try:
            answer = self.client.request("POST", "completions", completion_payload(self.endpoint.model, text, max_tokens))
        except RequestRejected as rejected:
            if max_tokens == 0 and "max_tokens" in rejected.message:
                with self._lock:
                    self.max_tokens = 1
                return self._complete(text)
            raise
        generated = (answer.get("usage") or {}).get("completion_tokens") if isinstance(answer, dict) else None
        if max_tokens == 0 and isinstance(generated, int) and generated > 1:
            with self._lock:
                self.max_tokens = 1  # this server reads 0 as "no limit": never send 0 again
        return answer

    def _rejection_error(self, rejected: RequestRejected, request: ScoreRequest) -> TypicalityError:
        where = f"{self.endpoint.base_url} (model {self.endpoint.model!r})"
        if rejected.status in (401, 403):
            return TypicalityError(f"endpoint {where} refused the API key (HTTP {rejected.status}); set TYPICALITY_API_KEY in the environment")
        if rejected.status == 404:
            return TypicalityError(
                f"endpoint {where} answered 404 ({rejected.message}): check the model name after '#' and that the URL is the API root "
                "(usually ending in /v1) of a server with the legacy /completions API"
            )
        return TypicalityError(
            f"endpoint {where} rejected the echo request (HTTP {rejected.status}: {rejected.message}); it must support "
            "/completions with echo=true and logprobs (vLLM, llama.cpp's server and base-model providers do; chat-only APIs do not). "
            f"Response {request.key[:12]}; scores finished so far are cached"
        )


class _Committer:
    """Finished scores to the cache in small batches: every `every` scores or `seconds`, whichever comes first."""

    def __init__(self, cache: ScoreSink, fingerprint: str, every: int, seconds: float):
        self.cache, self.fingerprint, self.every, self.seconds = cache, fingerprint, every, seconds
        self.unsaved: dict[str, CachedScore] = {}
        self.last = time.monotonic()

    def add(self, key: str, score: CachedScore) -> None:
        self.unsaved[key] = score

    def due(self) -> bool:
        return len(self.unsaved) >= self.every or (bool(self.unsaved) and time.monotonic() - self.last >= self.seconds)

    def flush(self) -> None:
        if self.unsaved:
            self.cache.put_many(self.fingerprint, dict(self.unsaved))
            self.unsaved.clear()
        self.last = time.monotonic()


def _run_concurrently(
    requests: list[ScoreRequest], score_one: Callable, concurrency: int, stopping: threading.Event, committer: _Committer, advance: Callable[[], None]
) -> dict[str, CachedScore | Skipped]:
    """Run `score_one` over the requests in `concurrency` daemon threads; commit finished scores as they come.

    The first error stops the run: requests already on the wire get STOP_GRACE_S to finish,
    everything finished is committed, then the error propagates.
    """
    results: dict[str, CachedScore | Skipped] = {}
    stopping.clear()
    jobs: queue.SimpleQueue = queue.SimpleQueue()
    for request in requests:
        jobs.put(request)
    outcomes: queue.SimpleQueue = queue.SimpleQueue()

    def worker() -> None:
        while not stopping.is_set():
            try:
                request = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                outcomes.put((request, score_one(request), None))
            except BaseException as error:  # handed to the main thread, which stops the run
                outcomes.put((request, None, error))

    def take(request, outcome, error) -> None:
        if error is not None:
            raise error
        results[request.key] = outcome
        if isinstance(outcome, CachedScore):
            committer.add(request.key, outcome)

    # Daemon threads: a stopped run (error, Ctrl-C) does not wait for requests still on the wire.
    workers = [threading.Thread(target=worker, daemon=True, name=f"typicality-endpoint-{i}") for i in range(min(concurrency, len(requests)))]
    try:
        for thread in workers:
            thread.start()
        while len(results) < len(requests):
            try:
                take(*outcomes.get(timeout=0.5))  # a timeout keeps Ctrl-C responsive
            except queue.Empty:
                if committer.due():
                    committer.flush()
                continue
            advance()
            if committer.due():
                committer.flush()
    except BaseException:
        stopping.set()
        # A short grace for requests about to finish (retry loops end at once on `stopping`);
        # whatever is still on the wire after it is the only work lost.
        deadline = time.monotonic() + STOP_GRACE_S
        for thread in workers:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        while True:  # keep whatever else has finished
            try:
                request, outcome, error = outcomes.get_nowait()
            except queue.Empty:
                break
            if error is None and isinstance(outcome, CachedScore):
                committer.add(request.key, outcome)
        committer.flush()
        raise
    committer.flush()
    return results


def _context_overflow(rejected: RequestRejected) -> float | None:
    """The share of the request's tokens over the context window, when the rejection says it is too long."""
    if rejected.status not in (400, 413, 422) or not _CONTEXT_ERROR.search(rejected.message):
        return None
    maximum, requested = _MAX_CONTEXT.search(rejected.message), _REQUESTED.search(rejected.message)
    if maximum and requested and int(requested.group(1)) > int(maximum.group(1)):
        return (int(requested.group(1)) - int(maximum.group(1))) / int(requested.group(1))
    return 0.25  # the message does not say by how much: cut a quarter and ask again


def load_openai_backend(model: str, device: str | None = None, progress: bool = True, **options) -> OpenAICompletionsBackend:
    """The registry's factory (backends.py). `model` is the full spec `openai:URL#MODEL`; options: concurrency, timeout (or
    timeout_s), max_retries, max_tokens, revision."""
    if "timeout" in options:  # OpenAIOptions' name (--timeout) for the client's timeout_s
        options["timeout_s"] = options.pop("timeout")
    if device is not None:
        raise TypicalityError(f"--device {device}: an endpoint model runs on its server; leave --device out with --model openai:...")
    accepted = set(inspect.signature(OpenAICompletionsBackend.__init__).parameters) - {"self", "spec"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise TypicalityError(
            f"{', '.join(unknown)} do(es) not apply to an endpoint model ({model}): the server decides its own weights, "
            f"dtype and tokenizer. Options that apply: {', '.join(sorted(accepted))}"
        )
    return OpenAICompletionsBackend(model, **options)
