"""Token-level typicality: a few responses re-scored with each token's log-probability, for `typicality explain`.

The same rules as the audit's scores, so the tokens add up to the number the audit used: the
documented join (join.py), the shared preparation (preparation.py: BOS policy, boundary rule,
window), and the backend's own batched computation. A backend that exposes it
(`token_logprobs(batch)`, the transformers backend) gives the per-token values of the very
computation whose sums the cache holds; any other falls back to its one-at-a-time `trace`
(the computation `typicality check` compares with the batched one).

Each token is given the characters of the response it covers: the pieces concatenate to the
response exactly. A token that spans the prompt/response join (boundary.py) is scored with the
response; its piece is the response's share of its characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from typicality.errors import TypicalityError
from typicality.results import ScoreCard
from typicality.scoring.backends import ScoringBackend, load_backend
from typicality.scoring.join import scoring_context
from typicality.scoring.requests import Prepared, ScoreRequest, Skipped, text_key


@dataclass(frozen=True)
class ResponseTokens:
    """One response token by token: `pieces[i]` is the text token i covers, `logprobs[i]` its log-probability given all before it."""

    key: str  # the cache key of (prompt, response)
    pieces: tuple[str, ...]
    logprobs: tuple[float, ...]
    boundary_merged: bool = False
    truncated: bool = False  # the response's tail was cut to fit the window: the pieces stop where scoring stopped
    prompt_truncated: bool = False

    @property
    def sum_logprob(self) -> float:
        return float(sum(self.logprobs))

    @property
    def n_tokens(self) -> int:
        return len(self.logprobs)


def token_logprobs(backend: ScoringBackend, texts: list[tuple[str, str]]) -> list[ResponseTokens | Skipped]:
    """Each (prompt, response) re-scored token by token under `backend`, in order; a response the scorer skips comes back `Skipped`."""
    requests = [ScoreRequest(text_key(prompt, response), scoring_context(prompt, response), response) for prompt, response in texts]
    if not hasattr(backend, "token_logprobs") or not hasattr(backend, "prepare"):
        return [_from_trace(request, trace) for request, trace in zip(requests, backend.trace(requests))]
    prepared = backend.prepare(requests)
    ready = [item for item in prepared if isinstance(item, Prepared)]
    values: dict[str, list[float]] = {}
    for batch in backend.plan(ready):
        values.update({item.key: logprobs for item, logprobs in zip(batch, backend.token_logprobs(batch))})
    out: list[ResponseTokens | Skipped] = []
    for request, item in zip(requests, prepared):
        if isinstance(item, Skipped):
            out.append(item)
            continue
        pieces = _pieces(backend, request, item)
        out.append(ResponseTokens(item.key, pieces, tuple(values[item.key]), item.boundary_merged, item.truncated, item.prompt_truncated))
    return out


def _pieces(backend, request: ScoreRequest, item: Prepared) -> tuple[str, ...]:
    """The response's characters under each scored token, from the tokenizer's offsets over the text the model read.

    Each piece runs from its token's start (or the response's start) to the next token's start, so the pieces
    concatenate to the response. Where offsets are unavailable (a truncated prompt, a slow tokenizer), each token is decoded alone.
    """
    tokenizer = backend.tokenizer
    text = backend._render_prompt(request.prompt) + request.response
    boundary = len(text) - len(request.response)
    ids = [*item.context, *item.response]
    specials = set(tokenizer.all_special_ids)
    leading = next((i for i, token in enumerate(ids) if token not in specials), len(ids))
    spans = backend._spans(text, ids, leading)
    if not spans or any(span is None for span in spans[len(item.context):]):
        return tuple(tokenizer.decode([token]) for token in item.response)
    starts = [max(span[0], boundary) for span in spans[len(item.context):]]
    return tuple(text[start:end] for start, end in zip(starts, [*starts[1:], len(text)]))


def _from_trace(request: ScoreRequest, trace) -> ResponseTokens | Skipped:
    if isinstance(trace, Skipped):
        return trace
    start = trace.response_start
    spans = trace.spans[start:]
    values = tuple(float(value) for value in trace.logprobs[start:])
    if spans and all(span is not None for span in spans):
        starts = [max(span[0], trace.boundary) for span in spans]
        pieces = tuple(trace.text[a:b] for a, b in zip(starts, [*starts[1:], len(trace.text)]))
    else:
        pieces = tuple(trace.tokens[start:])
    return ResponseTokens(request.key, pieces, values, trace.boundary_merged)


def backend_for_card(card: ScoreCard | None, **options) -> ScoringBackend:
    """The backend that produced a score card, loaded again with the card's settings; refused unless its fingerprint is the card's."""
    name, backend_name = (card.model or card.name, card.backend) if card is not None else (None, None)
    if not name or not backend_name:
        raise TypicalityError("The audit's score card names no model or backend, so its scores cannot be re-computed token by token.")
    settings = {"dtype": card.dtype, "bos": card.bos_policy or "auto", "chat_template": bool(card.chat_template)}
    if backend_name != "transformers":
        settings = {}
    backend = load_backend(name, backend_name, progress=False, **settings, **options)
    return checked_backend(backend, card)


def checked_backend(backend: ScoringBackend, card: ScoreCard | None) -> ScoringBackend:
    """`backend` with the card's window, refused with the fix unless its fingerprint is the one the audit's scores carry."""
    window = card.window if card is not None else None
    if window and getattr(backend, "window", window) != window and "max_length" in backend.light_settings:
        backend = backend.configured(max_length=int(window))
    fingerprint = backend.identity.fingerprint()
    if card is not None and card.fingerprint and fingerprint != card.fingerprint:
        raise TypicalityError(
            f"The model loaded for the token view has fingerprint {fingerprint}, but the audit was scored under {card.fingerprint}: "
            "load the same model, revision, dtype, BOS policy and window (or let `typicality explain` load it from the score card)."
        )
    return backend
