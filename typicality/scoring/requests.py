"""The records that pass between the scoring driver and a backend."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def text_key(prompt: str, response: str) -> str:
    """The cache key of an exact (prompt, response) text pair: a sha256 over both, length-prefixed."""
    digest = hashlib.sha256()
    for part in (prompt, response):
        encoded = part.encode("utf-8", errors="surrogatepass")  # lone surrogates still get a key; the backend skips them
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


@dataclass(frozen=True)
class ScoreRequest:
    """One distinct response to score, with the prompt it answers."""

    key: str
    prompt: str
    response: str


@dataclass(frozen=True)
class Prepared:
    """A request turned into token ids: the context the response is conditioned on, and the scored tokens.

    `context` always holds at least one token (BOS when the policy adds it), because the first
    response token's log-probability is read from the model's output at the last context position.
    """

    key: str
    context: tuple[int, ...]
    response: tuple[int, ...]
    prompt_truncated: bool = False  # prompt tokens were cut from the left to fit the window
    truncated: bool = False  # the response alone exceeded the window and its tail was cut
    boundary_merged: bool = False  # a token spanned the prompt/response join (see boundary.py)

    @property
    def n_positions(self) -> int:
        """Tokens a one-sequence-at-a-time scorer would run for this response (prompt and response)."""
        return len(self.context) + len(self.response)


@dataclass(frozen=True)
class Skipped:
    """A request that cannot be scored, with the reason counted in the card."""

    key: str
    reason: str


@dataclass(frozen=True)
class TokenScores:
    """What a backend returns per prepared request: the token count and summed log-probability."""

    n_tokens: int
    sum_logprob: float
