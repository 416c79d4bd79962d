"""Turning (prompt, response) texts into context and response token ids, for any tokenizer.

Shared by the backends that tokenize locally: skip rules, the BOS policy, the boundary rule
(`boundary.py`) and the window rule (`window.py`), in that order.
"""

from __future__ import annotations

from collections.abc import Callable

from typicality.scoring.boundary import split_joint
from typicality.scoring.requests import Prepared, ScoreRequest, Skipped
from typicality.scoring.window import fit_window

EMPTY = "empty response"
WHITESPACE = "whitespace-only response"
UNENCODABLE = "text the tokenizer cannot encode"
NO_TOKENS = "response adds no tokens"


def prepare_requests(
    requests: list[ScoreRequest],
    encode: Callable[[list[str]], list[list[int]]],
    bos_id: int | None,
    window: int,
    render_prompt: Callable[[str], str] = lambda prompt: prompt,
) -> list[Prepared | Skipped]:
    """Prepared token ids (or a counted skip) for each request, in order.

    `encode` tokenizes texts without adding special tokens; `bos_id`, when given, is put
    before every text exactly once (a rendered chat template that already starts with it is
    not given a second one).
    """
    results: list[Prepared | Skipped | None] = [None] * len(requests)
    pending: list[int] = []
    for index, request in enumerate(requests):
        reason = skip_reason(request)
        if reason:
            results[index] = Skipped(request.key, reason)
        else:
            pending.append(index)

    prompts = {requests[i].prompt: render_prompt(requests[i].prompt) for i in pending}
    prompt_ids = dict(zip(prompts, _encode_each(encode, list(prompts.values()))))
    joint_ids = _encode_each(encode, [prompts[requests[i].prompt] + requests[i].response for i in pending])
    for index, joint in zip(pending, joint_ids):
        request = requests[index]
        prompt = prompt_ids[request.prompt]
        if prompt is None or joint is None:
            results[index] = Skipped(request.key, UNENCODABLE)
            continue
        prompt, joint = _with_bos(prompt, bos_id), _with_bos(joint, bos_id)
        cut, merged = split_joint(prompt, joint)
        context, response = joint[:cut], joint[cut:]
        if not context:  # no BOS and the very first token spans the join: it can only be context
            context, response = response[:1], response[1:]
        if not response:
            results[index] = Skipped(request.key, NO_TOKENS)
            continue
        context, response, prompt_truncated, truncated = fit_window(context, response, window, keep_first=int(bos_id is not None))
        results[index] = Prepared(request.key, context, response, prompt_truncated, truncated, merged)
    return results  # type: ignore[return-value]


def skip_reason(request: ScoreRequest) -> str | None:
    """Why a request cannot be scored (counted in the card), or None; the same rule for every backend."""
    if not isinstance(request.response, str) or request.response == "":
        return EMPTY
    if not request.response.strip():
        return WHITESPACE
    for text in (request.prompt, request.response):
        try:
            text.encode("utf-8")
        except (UnicodeEncodeError, AttributeError):
            return UNENCODABLE
    return None


def _encode_each(encode: Callable[[list[str]], list[list[int]]], texts: list[str]) -> list[list[int] | None]:
    """Encode in one call; if the tokenizer rejects the batch, find the culprits one by one (None)."""
    if not texts:
        return []
    try:
        return [list(ids) for ids in encode(texts)]
    except Exception:
        encoded: list[list[int] | None] = []
        for text in texts:
            try:
                encoded.append(list(encode([text])[0]))
            except Exception:
                encoded.append(None)
        return encoded


def _with_bos(ids: list[int], bos_id: int | None) -> tuple[int, ...]:
    if bos_id is None or (ids and ids[0] == bos_id):
        return tuple(ids)
    return (bos_id, *ids)
