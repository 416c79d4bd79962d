"""Cutting an echoed completions answer at the prompt/response join, from `text_offset` alone."""

from __future__ import annotations

import pytest

from typicality.scoring.openai_echo import EchoMismatch, split_echo


def answer(tokens, values, offsets, text, completion_tokens=0, usage=True):
    body = {"choices": [{"text": text, "logprobs": {"tokens": tokens, "token_logprobs": values, "text_offset": offsets}}]}
    if usage:
        body["usage"] = {"prompt_tokens": len(tokens) - completion_tokens, "completion_tokens": completion_tokens, "total_tokens": len(tokens)}
    return body


def test_vllm_style_bos_echoed_as_text_shifts_the_offsets():
    # vLLM echoes BOS as "<bos>" at offset 0 and counts its 5 characters in the later offsets.
    tokens = ["<bos>", "Hi", ":", " there", "!"]
    offsets = [0, 5, 7, 8, 14]
    cut = split_echo(answer(tokens, [None, -1.0, -2.0, -3.0, -4.0], offsets, "Hi: there!"), "Hi: there!", boundary=3)
    assert cut.first_text_token == 1 and cut.offsets == [-1, 0, 2, 3, 9]
    assert cut.response_start == 3 and not cut.spanning
    assert cut.logprobs[cut.response_start:] == [-3.0, -4.0]


def test_llama_cpp_style_no_bos_and_a_generated_token_dropped():
    tokens = ["Hi", ":", " there", "!", " And"]  # the last one is generated (max_tokens=1)
    offsets = [0, 2, 3, 9, 10]
    cut = split_echo(answer(tokens, [None, -2.0, -3.0, -4.0, -0.5], offsets, "Hi: there! And", completion_tokens=1), "Hi: there!", boundary=3)
    assert cut.first_text_token == 0 and cut.response_start == 2
    assert cut.logprobs == [None, -2.0, -3.0, -4.0]


def test_generated_token_dropped_without_usage_block():
    tokens = ["<s>", "a", "b", "c", "d"]
    cut = split_echo(answer(tokens, [None, -1.0, -1.5, -2.0, -9.0], [0, 3, 4, 5, 6], "abcd", usage=False), "abc", boundary=1)
    assert cut.logprobs == [None, -1.0, -1.5, -2.0] and cut.response_start == 2


def test_token_spanning_the_join_is_scored_with_the_response_and_flagged():
    # "Q:" + " yes": a tokenizer that merges ": y" into one token starting in the prompt.
    # boundary.py's rule: that token and all after it are the response.
    tokens = ["Q", ": y", "es"]
    cut = split_echo(answer(tokens, [None, -1.0, -2.0], [0, 1, 4], "Q: yes"), "Q: yes", boundary=2)
    assert cut.spanning and cut.response_start == 1 and cut.logprobs[1:] == [-1.0, -2.0]


def test_boundary_comes_from_offsets_even_when_the_response_repeats_the_prompt():
    # A string search for the response "ha" would find it at 0; the offsets put it at 2.
    tokens = ["<s>", "h", "a", "h", "a"]
    cut = split_echo(answer(tokens, [None, -1.0, -2.0, -3.0, -4.0], [0, 3, 4, 5, 6], "haha"), "haha", boundary=2)
    assert cut.response_start == 3 and cut.logprobs[3:] == [-3.0, -4.0]


def test_offsets_that_do_not_index_the_text_are_refused():
    # Offsets drift by one character in the middle, the end no longer lands on a token edge.
    with pytest.raises(EchoMismatch, match="text_offset does not index"):
        split_echo(answer(["ab", "cd", "e"], [None, -1.0, -1.0], [0, 3, 4], "abcde"), "abcde", boundary=2)


def test_no_echo_is_refused():
    with pytest.raises(EchoMismatch, match="did not echo"):
        split_echo(answer(["x"], [-1.0], [5], "x", completion_tokens=1), "abcde", boundary=2)
    with pytest.raises(EchoMismatch, match="no per-token log-probabilities"):
        split_echo({"choices": [{"text": "abcde", "logprobs": None}]}, "abcde", boundary=2)
