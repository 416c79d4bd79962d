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


# A text far longer than the window is never tokenized whole (a 50 MB response took 8.8 GB and
# minutes): a response keeps its first `CHARS_PER_TOKEN * window` characters, a prompt its last,
# before tokenizing; where those characters make too few tokens, the cut is doubled until they
# make `MARGIN_TOKENS` more than the window keeps, so the tokens kept (window.py) are the ones the
# whole text gives: only tokens within reach of the cut could differ, and those are cut anyway.
CHARS_PER_TOKEN = 8
MARGIN_TOKENS = 64
MIN_CUT_CHARS = 4096


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
    not given a second one). Texts longer than the window are cut by characters first (above).
    """
    results: list[Prepared | Skipped | None] = [None] * len(requests)
    pending: list[int] = []
    for index, request in enumerate(requests):
        reason = skip_reason(request)
        if reason:
            results[index] = Skipped(request.key, reason)
        else:
            pending.append(index)

    cut_chars = max(CHARS_PER_TOKEN * (window + MARGIN_TOKENS), MIN_CUT_CHARS)
    while pending:
        texts = {index: _cut_texts(requests[index], cut_chars) for index in pending}
        prompts = {prompt: render_prompt(prompt) for prompt, _ in texts.values()}
        prompt_ids = dict(zip(prompts, _encode_each(encode, list(prompts.values()))))
        joint_ids = _encode_each(encode, [prompts[prompt] + response for prompt, response in texts.values()])
        too_few = []
        for index, joint in zip(pending, joint_ids):
            request, (prompt_text, response_text) = requests[index], texts[index]
            prompt = prompt_ids[prompt_text]
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
            response_cut, prompt_cut = len(response_text) < len(request.response), len(prompt_text) < len(request.prompt)
            if (response_cut and len(response) < window + MARGIN_TOKENS) or (prompt_cut and len(context) < window + MARGIN_TOKENS):
                too_few.append(index)  # the characters kept make too few tokens to cut exactly: keep more
                continue
            context, response, prompt_truncated, truncated = fit_window(context, response, window, keep_first=int(bos_id is not None))
            results[index] = Prepared(request.key, context, response, prompt_truncated, truncated, merged)
        pending, cut_chars = too_few, cut_chars * 4
    return results  # type: ignore[return-value]


def _cut_texts(request: ScoreRequest, chars: int) -> tuple[str, str]:
    """(prompt, response) with the prompt's last and the response's first `chars` characters (whole when shorter)."""
    prompt = request.prompt if len(request.prompt) <= chars else request.prompt[len(request.prompt) - chars :]
    return prompt, request.response[:chars]


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
