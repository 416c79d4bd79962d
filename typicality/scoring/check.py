"""`typicality check MODEL`: can this model's (or server's) scores be trusted? Answered in a minute, before a long run.

The public tools of the field have each shipped one of these bugs: scores that change with the
batch size or padding side, a BOS missing or doubled, the first response token dropped, a
server that refuses `echo` (mainline llama.cpp) so that every likelihood is silently zero,
prompt log-probabilities that depend on a server's prefix cache (some vLLM versions), NaN from
Gemma in float16. Each check below scores a set of built-in joins and compares what the scorer
does with an independent reading of the same text:

- `bos`: a BOS exactly once (or none, by the explicit policy), and what the tokenizer does by itself;
- `boundary`: the context tokens stop at the prompt/response join and the scored tokens cover the
  whole response; a token spanning the join is scored with the response and flagged (boundary.py);
- `offsets` (endpoints): each echoed token is the text at its offset;
- `echo` (endpoints): the server returns the prompt's log-probabilities with `echo=true`;
- `served name` (endpoints): the server serves the model name asked for;
- `finite`: no NaN or infinity in the chosen dtype, with the fix named;
- `invariance`: batched scores equal the one-at-a-time trace within a stated tolerance, whatever
  the batch size, padding side or number of requests in flight; a repeat of the same texts
  (a warm prefix cache) changes nothing;
- `agreement` (with `against`): the same tokens, and per-token log-probabilities within the
  tolerance, under a second backend (e.g. a served model and the in-process one).

`check_backend(backend, quick=True)` is the subset `score()` runs before any model but the
embedded one; its `CheckReport.to_dict()` goes into the score card as `check`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from typicality.errors import TypicalityError
from typicality.scoring.backends import ScoringBackend
from typicality.scoring.cache import MemorySink
from typicality.scoring.checkpoints import EMBEDDED_NAME
from typicality.scoring.join import scoring_context
from typicality.scoring.requests import ScoreRequest, Skipped, TokenTrace, text_key

# (name, prompt, response): joins that have broken real scorers.
JOINS = [
    ("dialogue, space on the response side", "\n\nHuman: What is the capital of France?\n\nAssistant:", " The capital of France is Paris."),
    ("a token spanning the join (the prompt's trailing space joins the first word)", "The capital of Italy is ", "Rome."),
    ("trailing space on the prompt side", "Question: What is two plus two?\nAnswer: ", "Four, of course."),
    ("emoji", "Reply with an emoji:", " 🎉🎉 Great news! 👍"),
    ("bare instruction and answer (the join adds a newline)", "Write a haiku about autumn.", "Leaves fall softly down"),
    ("newlines on both sides", "First line.\n\n", "\n\nSecond line after blank lines."),
    ("CJK after a newline", "Translate to Chinese: good morning\n", "早上好，今天天气很好。"),
    ("CJK on both sides", "日本の首都は", "東京です。"),
]
QUICK_JOINS = JOINS[:4]
# Per-token tolerance (mean absolute difference in nats) by the weights' dtype: float32 is exact up to
# summation order; half precision and servers (bfloat16 kernels, batch-dependent) differ by more.
TOLERANCE = {"float32": 1e-4}
HALF_PRECISION_TOLERANCE = 0.05
# Two backends on the same weights: the bugs this catches (a dropped or doubled BOS, an off-by-one,
# a shifted boundary) move tokens by whole nats. Backends that compute differently (llama.cpp's
# quantized matmuls against a float32 dequantized copy) differ by ~0.1 nats/token on average:
# pass a looser `against_tolerance` for such a pair.
AGAINST_TOLERANCE = 0.1
PREFIX_CACHE_FIX = "on vLLM, serve with --no-enable-prefix-caching (prompt log-probabilities have depended on the prefix cache in some versions)"


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass
class CheckReport:
    """The results of every check on one model; `passed` when all passed."""

    model: str
    fingerprint: str
    quick: bool
    tolerance: float
    against: str | None = None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(CheckResult(name, bool(passed), detail))

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "model": self.model,
            "fingerprint": self.fingerprint,
            "quick": self.quick,
            "tolerance_nats_per_token": self.tolerance,
            "against": self.against,
            "checks": [check.to_dict() for check in self.checks],
        }

    def refusal(self, model: str) -> str:
        """One message for a pre-flight that failed: what failed, the fix, and how to go on anyway."""
        failed = "; ".join(f"{check.name}: {check.detail}" for check in self.checks if not check.passed)
        return (
            f"The pre-flight check of {model} failed ({failed}). Its scores cannot be trusted as they are; "
            f"`typicality check {model}` prints the full table. Pass --no-check (check=False) to score anyway."
        )


def needs_quick_check(backend: ScoringBackend) -> bool:
    """Whether a run checks this loaded model before scoring: every model but the embedded one in the
    transformers backend (that one is checked by the test suite; under vLLM it is another engine)."""
    return not (backend.identity.name == EMBEDDED_NAME and backend.name == "transformers")


def check_backend(
    backend: ScoringBackend, *, quick: bool = False, against: ScoringBackend | None = None, against_tolerance: float = AGAINST_TOLERANCE
) -> CheckReport:
    """Run the conformance checks on a loaded backend (and, with `against`, compare it with a second one)."""
    identity = backend.identity
    if getattr(backend, "max_length", None) is not None and "max_length" in backend.light_settings:
        # The built-in texts are short; a window set below them would cut them (window.py's rule, tested on its own).
        backend = backend.configured(max_length=None)
    tolerance = TOLERANCE.get(identity.dtype, HALF_PRECISION_TOLERANCE)
    report = CheckReport(identity.name, identity.fingerprint(), quick, tolerance, against.identity.name if against else None)
    requests = built_in_requests(QUICK_JOINS if quick else JOINS)
    traces = _traces(backend, requests, report)
    if traces is None:
        return report  # the echo failed: nothing else can be read
    _check_bos(report, traces)
    _check_boundary(report, traces)
    if any(trace.facts.get("token_strings_are_text") for trace in traces):
        _check_offsets(report, traces)
    served = [trace.facts.get("served_model") for trace in traces if "served_model" in trace.facts]
    if served:
        _check_served_name(report, served, identity.name)
    _check_finite(report, traces, identity.dtype)
    _check_invariance(report, backend, requests, traces, tolerance, quick)
    if against is not None:
        other = _traces(against, requests, report, label=" (against)")
        if other is not None:
            _check_agreement(report, traces, other, against_tolerance)
    return report


def built_in_requests(joins=JOINS) -> list[ScoreRequest]:
    """The built-in joins as the scorer sends them: the documented join rule applied (join.py)."""
    return [ScoreRequest(text_key(prompt, response), scoring_context(prompt, response), response) for _, prompt, response in joins]


def join_name(index: int) -> str:
    return JOINS[index][0]


def _traces(backend: ScoringBackend, requests: list[ScoreRequest], report: CheckReport, label: str = "") -> list[TokenTrace] | None:
    """Each built-in text token by token; a backend that cannot echo the prompt fails `echo` here."""
    from typicality.scoring.openai_client import RequestRejected
    from typicality.scoring.openai_echo import EchoMismatch

    name = backend.identity.name
    try:
        traces = backend.trace(requests)
    except RequestRejected as rejected:
        if rejected.status in (401, 403, 404):  # not about echo: the key or the model name
            raise TypicalityError(
                f"{name} refused the check's request (HTTP {rejected.status}: {rejected.message}); check the API key "
                "(TYPICALITY_API_KEY) and the model name after '#'"
            ) from None
        report.add("echo" + label, False, (
            f"{name} refused a completions request with echo=true (HTTP {rejected.status}: {rejected.message}), so it cannot return "
            "the prompt's log-probabilities (mainline llama.cpp's server refuses echo); serve the model with vLLM or llama-cpp-python's server"
        ))
        return None
    except EchoMismatch as mismatch:
        report.add("echo" + label, False, (
            f"{name} did not return the prompt's log-probabilities with echo=true ({mismatch}); every likelihood would be missing "
            "or zero. Serve the model with a server that echoes prompt log-probabilities (vLLM, llama-cpp-python's server)"
        ))
        return None
    skipped = [trace for trace in traces if isinstance(trace, Skipped)]
    if skipped:
        raise TypicalityError(f"{name} could not prepare a built-in check text ({skipped[0].reason}); its tokenizer is not usable for scoring.")
    if any("served_model" in trace.facts for trace in traces):
        zeros = all(all(value in (None, 0.0) for value in trace.response_logprobs) for trace in traces)
        report.add("echo" + label, not zeros, "the prompt's log-probabilities come back with echo=true" if not zeros else (
            f"{name} echoes the text but every prompt log-probability is zero or missing; the scores would all be 0"
        ))
    return traces


def _check_bos(report: CheckReport, traces: list[TokenTrace]) -> None:
    facts = traces[0].facts
    if "bos_count" in facts:  # a local tokenizer: the ids are ours
        counts = {trace.facts["bos_count"] for trace in traces}
        expected = 1 if facts["bos_expected"] else 0
        habit = f"the tokenizer {'adds' if facts['tokenizer_adds_bos'] else 'does not add'} {facts['bos_token'] or 'a BOS'} by itself"
        policy = f"policy --bos {facts['bos_policy']}: {'one BOS' if expected else 'no BOS'} expected"
        passed = counts == {expected}
        detail = f"{habit}; {policy}" + ("" if passed else f"; found {sorted(counts)} BOS token(s) per text: set --bos always or never explicitly")
        report.add("bos", passed, detail)
        return
    leading = {tuple(trace.facts.get("leading_special_tokens", [])) for trace in traces}
    most = max(len(tokens) for tokens in leading)
    shown = ", ".join(sorted({token for tokens in leading for token in tokens})) or "none"
    report.add("bos", most <= 1, (
        f"the server puts {most} special token(s) before the text ({shown})"
        + ("" if most <= 1 else "; a doubled BOS shifts every score: fix the server's tokenizer settings (add_bos_token)")
    ))


def _check_boundary(report: CheckReport, traces: list[TokenTrace]) -> None:
    if all(trace.facts.get("offsets") == "unavailable" for trace in traces):
        report.add(
            "boundary", True, "not checked: the tokenizer gives no character offsets (a slow tokenizer); the boundary rule of boundary.py applies as usual"
        )
        return
    problems = []
    for index, trace in enumerate(traces):
        problem = _boundary_problem(trace)
        if problem:
            problems.append(f"{join_name(index)}: {problem}")
    merged = sum(trace.boundary_merged for trace in traces)
    report.add(
        "boundary",
        not problems,
        "; ".join(problems)
        if problems
        else (
            f"exact on {len(traces)} joins (context stops at the join, every response token "
            f"scored; {merged} token(s) spanning the join scored with the response and flagged)"
        ),
    )


def _boundary_problem(trace: TokenTrace) -> str | None:
    spans = trace.spans[trace.n_leading_special :]
    if not spans or any(span is None for span in spans):
        return "the scored ids are not the tokenizer's own tokens of the text, so the join cannot be located"
    start = trace.response_start
    if start >= len(trace.tokens):
        return "no response token is scored"
    first_start, first_end = trace.spans[start]
    if start > trace.n_leading_special and trace.spans[start - 1][1] > trace.boundary:
        return "a context token reaches into the response (its first characters would go unscored)"
    if first_start > trace.boundary:
        return "the first response token starts after the join (response characters were dropped)"
    if first_end <= trace.boundary:
        return "the first scored token lies wholly in the prompt (prompt text scored as the response)"
    if (first_start < trace.boundary) != trace.boundary_merged:
        return "a token spanning the join is not flagged as such" if first_start < trace.boundary else "a join is flagged as spanned where no token spans it"
    if trace.spans[-1][1] != len(trace.text):
        return "the scored tokens stop before the end of the response"
    unscored = [i for i in range(start, len(trace.tokens)) if trace.logprobs[i] is None and i != trace.n_leading_special]
    if unscored:
        return f"{len(unscored)} response token(s) have no log-probability"
    return None


def _check_offsets(report: CheckReport, traces: list[TokenTrace]) -> None:
    wrong = []
    for index, trace in enumerate(traces):
        for token, span in zip(trace.tokens, trace.spans):
            if span is None or not token or "\ufffd" in token:
                continue  # a special token, or part of a character: its text proves nothing
            if trace.text[span[0] : span[0] + len(token)] != token:
                wrong.append(f"{join_name(index)}: token {token!r} is not at offset {span[0]}")
                break
    report.add("offsets", not wrong, "; ".join(wrong) if wrong else "every echoed token is the text at its offset")


def _check_served_name(report: CheckReport, served: list, asked: str) -> None:
    names = sorted({str(name) for name in served if name is not None})
    passed = all(name == asked for name in names)
    report.add("served name", passed, (
        f"the server answers as {asked!r}" + (" (it names no model in its answers)" if not names else "")
        if passed else f"asked for {asked!r}, the server answered as {', '.join(names)}: a proxy or alias may be serving another model"
    ))


def _check_finite(report: CheckReport, traces: list[TokenTrace], dtype: str) -> None:
    bad = sum(1 for trace in traces for value in trace.response_logprobs if value is not None and not math.isfinite(value))
    if not bad:
        report.add("finite", True, f"every log-probability is finite in {dtype}")
        return
    fix = {
        "float16": "float16 overflows in this model (Gemma does): use --dtype bfloat16 (float32's range) or float32",
        "bfloat16": "use --dtype float32",
    }.get(dtype, "serve the model in bfloat16 or float32 (vLLM --dtype bfloat16)")
    report.add("finite", False, f"{bad} log-probabilit{'y is' if bad == 1 else 'ies are'} NaN or infinite in {dtype}; {fix}")


def _variants(backend: ScoringBackend, n_texts: int, quick: bool) -> dict[str, ScoringBackend]:
    """Ways of running the same texts that must not change a score, from the backend's light settings."""
    settings = backend.light_settings
    variants: dict[str, ScoringBackend] = {}
    if "batch_tokens" in settings:
        variants["all texts in one batch"] = backend.configured(batch_tokens=10**9)
        if not quick:
            variants["one text per batch"] = backend.configured(batch_tokens=1)
    if "share_contexts" in settings and not quick:
        variants["each response in a row of its own"] = (
            backend.configured(batch_tokens=10**9, share_contexts=False) if "batch_tokens" in settings else backend.configured(share_contexts=False)
        )
    if "concurrency" in settings:
        variants["all requests at once"] = backend.configured(concurrency=n_texts)
        variants["the same requests again (a warm prefix cache)"] = variants["all requests at once"]
        if not quick:
            variants["one request at a time"] = backend.configured(concurrency=1)
    return variants or {"as configured": backend}


def _check_invariance(
    report: CheckReport, backend: ScoringBackend, requests: list[ScoreRequest], traces: list[TokenTrace], tolerance: float, quick: bool
) -> None:
    reference = {request.key: _trace_sum(trace) for request, trace in zip(requests, traces)}
    fingerprint = backend.identity.fingerprint()
    worst, where, problems = 0.0, "", []
    variants = _variants(backend, len(requests), quick)
    for name, variant in variants.items():
        sink = MemorySink()
        variant.score_into(requests, sink, fingerprint, progress=False)
        for index, request in enumerate(requests):
            n_tokens, total = reference[request.key]
            got = sink.rows.get(request.key)
            if got is None:
                problems.append(f"{name}: {join_name(index)} was not scored")
                continue
            if got.n_tokens != n_tokens:
                problems.append(f"{name}: {join_name(index)} scored {got.n_tokens} tokens, one at a time {n_tokens}")
                continue
            if not math.isfinite(total):
                continue  # NaN one at a time too: `finite` names it and its fix
            if not math.isfinite(got.sum_logprob):
                problems.append(f"{name}: {join_name(index)} is NaN or infinite only when batched")
                continue
            difference = abs(got.sum_logprob - total) / n_tokens
            if difference > worst:
                worst, where = difference, f"{name}, {join_name(index)}"
    if worst > tolerance:
        fix = f"; {PREFIX_CACHE_FIX}" if "concurrency" in backend.light_settings else "; report it with this table"
        problems.append(f"scores differ from the one-at-a-time computation by {worst:.3g} nats per token ({where}), over the tolerance {tolerance:g}{fix}")
    report.add("invariance", not problems, "; ".join(problems) if problems else (
        f"{', '.join(variants)}: within {worst:.2g} nats per token of the one-at-a-time computation (tolerance {tolerance:g})"
    ))


def _trace_sum(trace: TokenTrace) -> tuple[int, float]:
    values = [value for value in trace.response_logprobs if value is not None]
    return len(values), float(sum(values))


def _check_agreement(report: CheckReport, first: list[TokenTrace], second: list[TokenTrace], tolerance: float) -> None:
    """Per-token agreement of two backends: the same token spans over each response, and their log-probabilities."""
    aligned = total = 0
    differences: list[float] = []
    for one, two in zip(first, second):
        mine, theirs = _response_tokens(one), _response_tokens(two)
        total += len(set(mine) | set(theirs))
        for span in set(mine) & set(theirs):
            aligned += 1
            differences.append(abs(mine[span] - theirs[span]))
    share = aligned / total if total else 0.0
    mean = sum(differences) / len(differences) if differences else math.inf
    largest = max(differences, default=math.inf)
    passed = share == 1.0 and mean <= tolerance
    detail = (
        f"{aligned} of {total} response tokens are the same characters under both ({share:.0%}); "
        f"log-probabilities differ by {mean:.3g} nats per token on average (largest {largest:.3g}; tolerance {tolerance:g} on the average)"
    )
    if share < 1.0:
        detail += "; the two tokenize differently: they are not the same model, or one adds or drops characters"
    report.add("agreement", passed, detail)


def _response_tokens(trace: TokenTrace) -> dict[tuple[int, int], float]:
    """Response token spans (in response characters) -> log-probability, for tokens that have one."""
    offset = trace.boundary
    return {
        (span[0] - offset, span[1] - offset): value
        for span, value in zip(trace.spans[trace.response_start :], trace.logprobs[trace.response_start :])
        if span is not None and value is not None
    }


def check_model(options, against: str | None = None, progress: bool = True, against_tolerance: float = AGAINST_TOLERANCE) -> CheckReport:
    """Load the model of a `ScoringOptions` (and `against`, a model name) and run the full check."""
    from typicality.scoring.backends import load_backend
    from typicality.scoring.options import ScoringOptions

    options.validate()
    backend = load_backend(options.model, options.backend_name, progress=progress, **options.backend_options())
    other = None
    if against is not None:
        other_options = ScoringOptions.create(model=against)
        device = getattr(options.model_options, "device", None)
        if device and "device" in other_options.model_options.names():  # the second model on the same device, where it has one
            other_options = other_options.replace(device=device)
        other = load_backend(against, other_options.backend_name, progress=progress, **other_options.backend_options())
    return check_backend(backend, against=other, against_tolerance=against_tolerance)


