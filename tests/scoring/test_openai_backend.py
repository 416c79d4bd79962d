"""The endpoint backend against a scripted loopback server whose scores are hand-computable sums."""

from __future__ import annotations

import pytest

from tests.scoring.openai_servers import FakeCompletionsServer, FaultProxy, char_logprob
from typicality.errors import TypicalityError
from typicality.scoring.cache import MemorySink
from typicality.scoring.openai_backend import OpenAICompletionsBackend
from typicality.scoring.openai_client import RetryPolicy
from typicality.scoring.preparation import EMPTY, WHITESPACE
from typicality.scoring.requests import ScoreRequest, Skipped, text_key

FAST = RetryPolicy(max_retries=4, base_s=0.01, cap_s=0.05)


def requests_for(pairs):
    return [ScoreRequest(text_key(p, r), p, r) for p, r in pairs]


def expected(response: str) -> tuple[int, float]:
    return len(response), sum(char_logprob(c) for c in response)


def run(backend, requests, commit_every=4):
    """score_into a memory sink: (score or Skipped by key, the committed scores, the run's facts)."""
    backend.commit_every = commit_every
    sink = MemorySink()
    outcome = backend.score_into(requests, sink, backend.identity.fingerprint(), progress=False)
    results = {**sink.rows, **{key: Skipped(key, reason) for key, reason in outcome.skipped.items()}}
    return results, sink.rows, outcome


PAIRS = [(f"\n\nHuman: question {i}?\n\nAssistant:", f" answer number {i} " + "x" * (i % 7)) for i in range(40)]


def test_scores_equal_hand_computed_sums_with_concurrency():
    with FakeCompletionsServer() as fake:
        backend = OpenAICompletionsBackend(f"openai:{fake.url}#fake-model", concurrency=4, retry=FAST)
        results, stored, outcome = run(backend, requests_for(PAIRS))
    assert len(results) == len(stored) == len(PAIRS) == outcome.computed
    for request in requests_for(PAIRS):
        n_tokens, total = expected(request.response)
        score = results[request.key]
        assert (score.n_tokens, score.truncated, score.prompt_truncated, score.boundary_merged) == (n_tokens, False, False, False)
        assert score.sum_logprob == pytest.approx(total, abs=1e-9)
    assert fake.counts["POST /v1/completions"] == len(PAIRS)
    assert outcome.facts["requests"] == len(PAIRS) and outcome.facts["retries"] == 0
    # Tokens the server processed: BOS + prompt + response + 1 generated, per request.
    assert outcome.facts["server_tokens"] == outcome.tokens == sum(1 + len(p) + len(r) + 1 for p, r in PAIRS)


def test_identity_is_the_served_name_not_the_url():
    with FakeCompletionsServer(model="org/base") as one, FakeCompletionsServer(model="org/base") as two:
        first = OpenAICompletionsBackend(f"openai:{one.url}#org/base", retry=FAST).identity.fingerprint()
        second = OpenAICompletionsBackend(f"openai:{two.url}#org/base", retry=FAST).identity.fingerprint()
        other = OpenAICompletionsBackend(f"openai:{two.url}#org/base", retry=FAST, revision="fp8").identity.fingerprint()
    assert first == second and first != other
    assert "org/base" in first and "127.0.0.1" not in first


def test_server_errors_for_a_while_are_retried_and_scores_unchanged():
    with FakeCompletionsServer() as fake, FaultProxy(fake.url, failures=6, after=3) as proxy:
        backend = OpenAICompletionsBackend(f"openai:{proxy.url}#fake-model", concurrency=2, retry=FAST)
        results, _, outcome = run(backend, requests_for(PAIRS[:10]))
    assert proxy.counts["POST /v1/completions"] == 16 and outcome.facts["retries"] == 6
    for request in requests_for(PAIRS[:10]):
        assert results[request.key].sum_logprob == pytest.approx(expected(request.response)[1])


def test_a_failing_run_keeps_what_it_finished():
    with FakeCompletionsServer() as fake, FaultProxy(fake.url, failures=10**6, after=12) as proxy:
        backend = OpenAICompletionsBackend(f"openai:{proxy.url}#fake-model", concurrency=3, retry=RetryPolicy(max_retries=1, base_s=0.1, cap_s=0.1))
        backend.commit_every = 100
        sink = MemorySink()
        with pytest.raises(TypicalityError, match="still failing after 2 attempts"):
            backend.score_into(requests_for(PAIRS), sink, "fingerprint", progress=False)
        stored = sink.rows
    # Every request the server answered was stored, and each is right.
    assert len(stored) == proxy.forwarded == 12
    by_key = {r.key: r for r in requests_for(PAIRS)}
    for key, score in stored.items():
        assert score.sum_logprob == pytest.approx(expected(by_key[key].response)[1])


def test_max_tokens_zero_refused_falls_back_to_one():
    with FakeCompletionsServer(reject_max_tokens_zero=True) as fake:
        backend = OpenAICompletionsBackend(f"openai:{fake.url}#fake-model", concurrency=1, max_tokens=0, retry=FAST)
        results, _, _ = run(backend, requests_for(PAIRS[:3]))
    assert backend.max_tokens == 1 and fake.counts["POST /v1/completions"] == 4  # one refusal, then 3
    assert [results[r.key].n_tokens for r in requests_for(PAIRS[:3])] == [len(r) for _, r in PAIRS[:3]]


def test_max_tokens_zero_honoured_sends_zero():
    with FakeCompletionsServer() as fake:
        backend = OpenAICompletionsBackend(f"openai:{fake.url}#fake-model", concurrency=1, max_tokens=0, retry=FAST)
        _, _, outcome = run(backend, requests_for(PAIRS[:3]))
    assert backend.max_tokens == 0 and outcome.facts["server_tokens"] == sum(1 + len(p) + len(r) for p, r in PAIRS[:3])


def test_long_prompt_cut_from_the_left_and_long_response_cut_and_flagged():
    prompt, short, long = "p" * 300, "short reply", "r" * 120
    with FakeCompletionsServer(context_window=100) as fake:
        backend = OpenAICompletionsBackend(f"openai:{fake.url}#fake-model", concurrency=1, retry=FAST)
        results, _, _ = run(backend, requests_for([(prompt, short), ("q?", long)]))
        sent = list(fake.prompts)
    kept = results[text_key(prompt, short)]
    assert kept.prompt_truncated and not kept.truncated
    assert (kept.n_tokens, kept.sum_logprob) == (len(short), pytest.approx(expected(short)[1]))
    assert sent[0].endswith("p" + short) and 1 + len(sent[0]) + 1 <= 100  # BOS + text + 1 generated fit
    cut = results[text_key("q?", long)]
    assert cut.truncated and cut.prompt_truncated
    assert 0 < cut.n_tokens < len(long) and cut.n_tokens + 2 <= 100
    assert cut.sum_logprob == pytest.approx(cut.n_tokens * char_logprob("r"))


def test_empty_and_blank_responses_are_counted_skips_without_requests():
    with FakeCompletionsServer() as fake:
        backend = OpenAICompletionsBackend(f"openai:{fake.url}#fake-model", retry=FAST)
        results, stored, _ = run(backend, requests_for([("a", ""), ("a", " \n "), ("a", "ok")]))
    assert [type(v) for v in results.values()].count(Skipped) == 2 and len(stored) == 1
    assert {v.reason for v in results.values() if isinstance(v, Skipped)} == {EMPTY, WHITESPACE}
    assert fake.counts["POST /v1/completions"] == 1


def test_wrong_model_name_is_one_clear_message():
    with FakeCompletionsServer(model="org/base") as fake:
        with pytest.raises(TypicalityError, match="does not serve a model named 'org/typo'; it serves: org/base"):
            OpenAICompletionsBackend(f"openai:{fake.url}#org/typo", retry=FAST)
        # A server that does not list models: the first completion's 404 names the problem.
        backend = OpenAICompletionsBackend(f"openai:{fake.url}#org/typo", retry=FAST, check=False)
        with pytest.raises(TypicalityError, match=r"answered 404 .*check the model name"):
            run(backend, requests_for(PAIRS[:2]))


def test_options_that_do_not_apply_to_an_endpoint_are_named():
    from typicality.scoring.backends import load_backend

    with pytest.raises(TypicalityError, match=r"dtype do\(es\) not apply to an endpoint model"):
        load_backend("openai:http://127.0.0.1:9/v1#m", "openai", dtype="bfloat16")
    with pytest.raises(TypicalityError, match="--device cuda: an endpoint model runs on its server"):
        load_backend("openai:http://127.0.0.1:9/v1#m", "openai", device="cuda")
