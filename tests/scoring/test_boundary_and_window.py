"""The boundary rule, the window rule and text preparation, on hand-checked token sequences."""

from __future__ import annotations

import pytest

from typicality.scoring.boundary import split_joint
from typicality.scoring.preparation import EMPTY, NO_TOKENS, UNENCODABLE, WHITESPACE, prepare_requests
from typicality.scoring.requests import Prepared, ScoreRequest, Skipped
from typicality.scoring.window import fit_window

BOS = 1


def greedy_encoder(vocabulary: list[str]):
    """Longest-match tokenizer over `vocabulary` (ids from 10); raises on the text 'BOOM'."""
    ids = {piece: 10 + index for index, piece in enumerate(vocabulary)}

    def encode(texts: list[str]) -> list[list[int]]:
        out = []
        for text in texts:
            if "BOOM" in text:
                raise ValueError("cannot encode")
            tokens, at = [], 0
            while at < len(text):
                piece = max((p for p in ids if text.startswith(p, at)), key=len)
                tokens.append(ids[piece])
                at += len(piece)
            out.append(tokens)
        return out

    return encode, ids


def test_clean_boundary_cuts_at_the_prompt():
    assert split_joint([BOS, 5, 6], [BOS, 5, 6, 7, 8]) == (3, False)


def test_a_token_spanning_the_join_goes_to_the_response_and_is_flagged():
    # prompt "... capit" = [5, 9]; joint "... capital" = [5, 10]: token 10 spans the join
    assert split_joint([BOS, 5, 9], [BOS, 5, 10, 8]) == (2, True)


def test_window_keeps_everything_that_fits():
    assert fit_window((BOS, 5, 6), (7, 8), window=5, keep_first=1) == ((BOS, 5, 6), (7, 8), False, False)


def test_long_prompt_is_cut_from_the_left_keeping_bos_never_the_response():
    context, response, prompt_cut, response_cut = fit_window((BOS, 11, 12, 13, 14), (21, 22), window=5, keep_first=1)
    assert (context, response, prompt_cut, response_cut) == ((BOS, 13, 14), (21, 22), True, False)


def test_prompt_can_shrink_to_bos_alone():
    assert fit_window((BOS, 11, 12), (21, 22, 23, 24), window=5, keep_first=1) == ((BOS,), (21, 22, 23, 24), True, False)


def test_response_longer_than_the_window_keeps_its_beginning_and_is_flagged():
    response = tuple(range(21, 31))
    assert fit_window((BOS, 11, 12), response, window=4, keep_first=1) == ((BOS,), (21, 22, 23), True, True)


def test_without_bos_one_context_token_is_kept():
    response = tuple(range(21, 31))
    assert fit_window((11, 12, 13), response, window=4, keep_first=0) == ((13,), (21, 22, 23), True, True)
    assert fit_window((11, 12, 13), (21,), window=3, keep_first=0) == ((12, 13), (21,), True, False)


def test_window_too_small_for_any_score():
    with pytest.raises(ValueError):
        fit_window((BOS,), (21,), window=1, keep_first=1)


def requests(*pairs):
    return [ScoreRequest(f"k{index}", prompt, response) for index, (prompt, response) in enumerate(pairs)]


def test_prepare_counts_each_skip_reason_and_scores_the_rest():
    encode, ids = greedy_encoder(["a", "b", " ", "\n"])
    results = prepare_requests(
        requests(("ab", " ba"), ("ab", ""), ("ab", " \n "), ("ab", "a\ud800b"), ("ab", "BOOM"), ("ab", "a")),
        encode,
        BOS,
        window=100,
    )
    assert [r.reason if isinstance(r, Skipped) else "ok" for r in results] == ["ok", EMPTY, WHITESPACE, UNENCODABLE, UNENCODABLE, "ok"]
    first = results[0]
    assert isinstance(first, Prepared)
    assert first.context == (BOS, ids["a"], ids["b"])
    assert first.response == (ids[" "], ids["b"], ids["a"])
    assert not first.boundary_merged


def test_prepare_flags_a_merge_and_never_doubles_bos():
    encode, ids = greedy_encoder(["<bos>", "the", " ", "capit", "capital", "al", "x"])
    bos_id = ids["<bos>"]
    rendered = lambda prompt: "<bos>" + prompt  # a chat template that writes BOS itself  # noqa: E731
    (result,) = prepare_requests(requests(("the capit", "al x")), encode, bos_id, 100, rendered)
    assert result.context == (bos_id, ids["the"], ids[" "])  # BOS once, then the common prefix
    assert result.response == (ids["capital"], ids[" "], ids["x"])
    assert result.boundary_merged


def test_without_bos_a_first_token_spanning_the_join_becomes_context():
    encode, ids = greedy_encoder(["a", "ab", "c"])
    (result,) = prepare_requests(requests(("a", "bc")), encode, None, 100)
    assert (result.context, result.response, result.boundary_merged) == ((ids["ab"],), (ids["c"],), True)
    (nothing,) = prepare_requests(requests(("a", "b")), encode, None, 100)
    assert nothing == Skipped("k0", NO_TOKENS)
