"""The records that pass between the scoring driver and a backend."""

from __future__ import annotations

from dataclasses import dataclass, field

from typicality.text_digest import text_digest


def text_key(prompt: str, response: str) -> str:
    """The cache key of an exact (prompt, response) text pair: the package's text digest of both (all 64 hex digits)."""
    return text_digest(prompt, response)


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


@dataclass
class ScoringRun:
    """What one `ScoringBackend.score_into` call did: the counted skips, and the work done for the card."""

    skipped: dict[str, str] = field(default_factory=dict)  # request key -> reason it cannot be scored
    computed: int = 0  # responses scored and stored in the cache
    seconds: float = 0.0  # time spent computing (excluding preparation on a local model)
    tokens: int = 0  # token positions processed: prompt + response per response (local), or as the server counted them
    facts: dict = field(default_factory=dict)  # backend-specific counts for the card (requests, retries, ...)

    @property
    def tokens_per_s(self) -> float | None:
        return round(self.tokens / self.seconds, 1) if self.seconds > 0 else None


@dataclass(frozen=True)
class TokenTrace:
    """One request as a backend reads and scores it, token by token: what `typicality check` inspects.

    Index i runs over every token the model reads, leading special tokens (BOS) included.
    """

    text: str  # the text after any leading special tokens: the context as the model reads it, then the response
    boundary: int  # the character where the response starts in `text`
    tokens: tuple[str, ...]  # each token as the backend names it
    spans: tuple[tuple[int, int] | None, ...]  # each token's characters in `text`; None for a special token (or unknown)
    logprobs: tuple[float | None, ...]  # each token's log-probability; None where nothing predicts it
    response_start: int  # the first token scored as the response
    boundary_merged: bool  # the backend flagged a token spanning the join
    n_leading_special: int  # special tokens before the text (BOS)
    facts: dict = field(default_factory=dict)  # what the backend knows about its BOS habit, the served name, ...

    @property
    def response_logprobs(self) -> list[float | None]:
        return list(self.logprobs[self.response_start :])
