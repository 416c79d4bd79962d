"""Token-level typicality: per-token log-probabilities that add up to the cached scores, with pieces that spell the response."""

from __future__ import annotations

import numpy as np
import pytest

from tests.scoring.helpers import data_from_texts
from tests.scoring.test_transformers_backend import PAIRS
from typicality.errors import TypicalityError
from typicality.scoring import score
from typicality.scoring.naive import naive_token_logprobs
from typicality.scoring.requests import Skipped
from typicality.scoring.token_view import ResponseTokens, checked_backend, token_logprobs

# The scorer's pairs, plus a bare instruction (the join adds a newline) and markup that must stay text.
TEXTS = [*PAIRS, ("Write a haiku.", "Leaves <b>fall</b> & drift"), ("Say nothing.", "   ")]


@pytest.fixture(scope="module")
def scored(tiny, tmp_path_factory):
    return score(data_from_texts(TEXTS), tiny, cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


def test_token_sums_equal_the_cached_sums_and_pieces_spell_the_response(tiny, scored):
    found = token_logprobs(tiny, TEXTS)
    table = scored.table.set_index("response_id")
    for (prompt, response), tokens, (_, row) in zip(TEXTS, found, table.iterrows()):
        if isinstance(row["skipped"], str):
            assert isinstance(tokens, Skipped) and tokens.reason == row["skipped"]
            continue
        assert isinstance(tokens, ResponseTokens)
        assert tokens.n_tokens == row["n_tokens"]
        assert abs(tokens.sum_logprob - row["sum_logprob"]) < 1e-4
        assert "".join(tokens.pieces) == response  # every character once, the join's token included
        assert all(value <= 0 for value in tokens.logprobs)


def test_each_token_matches_the_naive_one_sequence_computation(tiny):
    prompt, response = PAIRS[0]
    (tokens,) = token_logprobs(tiny, [(prompt, response)])
    bos = [tiny.tokenizer.bos_token_id]
    context = bos + tiny.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    joint = bos + tiny.tokenizer(prompt + response, add_special_tokens=False)["input_ids"]
    assert joint[: len(context)] == context  # this pair has no token across the join
    naive = naive_token_logprobs(tiny.model, joint, len(context)).tolist()
    np.testing.assert_allclose(tokens.logprobs, naive, atol=1e-4)


def test_a_token_across_the_join_is_flagged_and_keeps_only_the_response_characters(tiny):
    (tokens,) = token_logprobs(tiny, [("The capital of Italy is ", "Rome.")])
    assert tokens.boundary_merged
    assert tokens.pieces[0].startswith("R") and "".join(tokens.pieces) == "Rome."


def test_the_trace_fallback_adds_up_too(tiny, scored):
    """A backend without a batched per-token method is read through its one-at-a-time trace (as `typicality check` does)."""

    class TraceOnly:
        def __init__(self, backend):
            self.trace = backend.trace

    found = token_logprobs(TraceOnly(tiny), TEXTS[:3])
    for tokens, (_, row) in zip(found, scored.table.head(3).iterrows()):
        assert abs(tokens.sum_logprob - row["sum_logprob"]) < 1e-4


def test_another_model_than_the_audits_is_refused(tiny, scored):
    card = scored.card.replace(fingerprint=scored.card.fingerprint.replace("float32", "bfloat16"))
    with pytest.raises(TypicalityError, match="the audit was scored under"):
        checked_backend(tiny, card)
    assert checked_backend(tiny, scored.card).identity.fingerprint() == scored.card.fingerprint
