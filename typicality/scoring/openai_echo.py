"""Read the response's token log-probabilities out of an echoed completions answer.

The request sends `prompt + response` with `echo=true, logprobs=1`; the answer lists every
token of that text with its log-probability and its character offset (`text_offset`). The
response starts at character `len(prompt)`: its tokens are found from those offsets, never
by searching the echoed strings for the response text (a response may repeat its prompt).

What differs between servers, and how it is handled:
- a leading special token echoed as text (vLLM echoes Gemma's BOS as "<bos>" at offset 0
  though the echoed `text` lacks it): the offsets are shifted by its length; that shift is
  measured as (end of the last echoed token) - len(text) and must fall on a token edge;
- a token spanning the join (it starts in the prompt and ends in the response) is scored with
  the response and flagged, the rule of `boundary.py` read from offsets: the response starts at
  the first token that reaches past the join;
- the first token has no log-probability (nothing precedes it; llama.cpp also blanks the
  first token after BOS): such a response token is left out of the sums and counted;
- `max_tokens=1` (for servers that reject 0) appends a generated token: `usage.completion_tokens`
  says how many, and they are dropped;
- offsets that do not index the text (a server bug) make the item unscorable, with the reason,
  rather than silently mis-cut.
"""

from __future__ import annotations

from dataclasses import dataclass


class EchoMismatch(Exception):
    """The answer cannot be cut at the boundary reliably; the message says why."""


@dataclass(frozen=True)
class EchoedTokens:
    """One echoed answer, cut at the prompt/response join (indices into the echoed tokens)."""

    logprobs: list[float | None]  # every echoed token of the sent text, leading specials included
    offsets: list[int]  # character offsets into the sent text (shift removed); specials get -1
    first_text_token: int  # index of the first token that belongs to the text (after specials)
    response_start: int  # index of the first response token: the first one that reaches past the join
    spanning: bool  # that token starts in the prompt (it spans the join; boundary.py scores it with the response)
    n_server_tokens: int  # tokens the server processed for this request (prompt + generated)


def completion_payload(model: str, text: str, max_tokens: int) -> dict:
    """The request body: echo the text with each token's log-probability, generate (almost) nothing."""
    return {
        "model": model,
        "prompt": text,
        "echo": True,
        "logprobs": 1,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": False,
    }


def split_echo(answer: dict, text: str, boundary: int) -> EchoedTokens:
    """Cut the echoed tokens of `text` at character `boundary` (= len(prompt)) using `text_offset`."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise EchoMismatch("the answer has no choices")
    choice = choices[0]
    logprobs = choice.get("logprobs") or {}
    tokens, values, offsets = logprobs.get("tokens"), logprobs.get("token_logprobs"), logprobs.get("text_offset")
    if not tokens or values is None or offsets is None or not len(tokens) == len(values) == len(offsets):
        raise EchoMismatch("the answer carries no per-token log-probabilities (the server must support echo=true with logprobs)")
    echoed = choice.get("text")
    if not isinstance(echoed, str) or not echoed.startswith(text):
        raise EchoMismatch("the server did not echo the prompt text back (it must support echo=true)")

    usage = answer.get("usage") or {}
    generated = usage.get("completion_tokens")
    count = len(tokens) - generated if isinstance(generated, int) and 0 <= generated <= len(tokens) else len(tokens)
    if generated is None:
        # No usage block: generated tokens are those starting at or after the end of the sent text
        # (in offset coordinates, which start `shift` characters before the echoed text).
        shift = offsets[-1] + len(tokens[-1]) - len(echoed)
        count = sum(1 for offset in offsets if offset < shift + len(text)) if shift >= 0 else len(tokens)
    if count < 1:
        raise EchoMismatch("the answer echoes no token of the text")
    if any(later < earlier for earlier, later in zip(offsets[:count], offsets[1:count])):
        raise EchoMismatch("text_offset is not increasing")

    # Leading special tokens: the echoed token strings extend past the text by their length.
    shift = offsets[count - 1] + len(tokens[count - 1]) - len(text)
    first = next((i for i in range(count) if offsets[i] >= shift), None)
    if shift < 0 or first is None or offsets[first] != shift:
        raise EchoMismatch(f"text_offset does not index the echoed text (the echoed tokens end {shift:+d} characters from its end)")
    local = [offset - shift if i >= first else -1 for i, offset in enumerate(offsets[:count])]

    start = next((i for i in range(first, count) if local[i] >= boundary), count)
    # Offsets are cumulative, so any drift before the join shows in the tokens beside it: check
    # that they read as the text at their offsets (a partial UTF-8 token, "" or with U+FFFD, proves nothing).
    for i in (start - 1, start):
        token = tokens[i] if first <= i < count else ""
        if token and "\ufffd" not in token and text[local[i]:local[i] + len(token)] != token:
            raise EchoMismatch(f"text_offset does not index the echoed text (token {token!r} is not at offset {local[i]})")
    # The token before `start` spans the join when it begins in the prompt and ends past the boundary.
    previous_end = local[start] if start < count else len(text)
    spanning = start > first and local[start - 1] < boundary < previous_end
    if spanning:
        start -= 1
    return EchoedTokens(
        logprobs=[None if value is None else float(value) for value in values[:count]],
        offsets=local,
        first_text_token=first,
        response_start=start,
        spanning=spanning,
        n_server_tokens=int(usage.get("total_tokens") or len(tokens)),
    )
