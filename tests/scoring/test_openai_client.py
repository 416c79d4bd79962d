"""The endpoint client: spec parsing, API key handling, retries with backoff, one clear error per user mistake."""

from __future__ import annotations

import random

import pytest

from tests.scoring.openai_servers import FakeCompletionsServer, FaultProxy
from tests.scoring.server_process import free_port
from typicality.errors import TypicalityError
from typicality.scoring.openai_client import CompletionsClient, Endpoint, RetryPolicy, api_key_from_environment, parse_endpoint
from typicality.scoring.openai_echo import completion_payload

FAST = dict(base_s=0.01, cap_s=0.05)


def test_parse_endpoint_reads_url_and_model():
    endpoint = parse_endpoint("openai:http://127.0.0.1:8000/v1/#meta-llama/Llama-3.1-405B")
    assert endpoint == Endpoint("http://127.0.0.1:8000/v1", "meta-llama/Llama-3.1-405B")
    assert endpoint.spec == "openai:http://127.0.0.1:8000/v1#meta-llama/Llama-3.1-405B"


@pytest.mark.parametrize("spec, hint", [
    ("openai:http://127.0.0.1:8000/v1", "model name is missing"),
    ("openai:127.0.0.1:8000/v1#m", "not an http(s) URL"),
    ("openai:http://user:secret@127.0.0.1/v1#m", "do not put credentials"),
])
def test_parse_endpoint_rejects_bad_specs(spec, hint):
    with pytest.raises(TypicalityError, match=hint.replace("(", r"\(").replace(")", r"\)")):
        parse_endpoint(spec)


def test_api_key_comes_from_environment_in_order(monkeypatch):
    monkeypatch.delenv("TYPICALITY_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert api_key_from_environment() is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert api_key_from_environment() == "sk-openai"
    monkeypatch.setenv("TYPICALITY_API_KEY", "sk-typicality")
    assert api_key_from_environment() == "sk-typicality"


def test_backoff_is_capped_exponential_with_full_jitter():
    policy = RetryPolicy(base_s=0.5, cap_s=8.0, rng=random.Random(0))
    for attempt in range(8):
        ceiling = min(8.0, 0.5 * 2**attempt)
        delays = [policy.delay(attempt) for _ in range(4000)]
        assert 0.0 <= min(delays) and max(delays) <= ceiling
        # Full jitter is uniform on [0, ceiling]: mean ceiling/2, sd ceiling/sqrt(12).
        assert sum(delays) / len(delays) == pytest.approx(ceiling / 2, rel=0.05)
    assert policy.delay(0, retry_after=3.0) == 3.0  # the server's Retry-After wins over a shorter guess
    assert policy.delay(0, retry_after=100.0) == 8.0  # within the cap


@pytest.mark.parametrize("mode", ["500", "drop"])
def test_transient_failures_are_retried_until_success(mode):
    with FakeCompletionsServer() as fake, FaultProxy(fake.url, failures=3, mode=mode) as proxy:
        client = CompletionsClient(Endpoint(proxy.url, "fake-model"), retry=RetryPolicy(max_retries=5, **FAST))
        answer = client.request("POST", "completions", completion_payload("fake-model", "abc", 1))
    assert answer["choices"][0]["text"] == "abc!"
    assert proxy.counts["POST /v1/completions"] == 4 and proxy.forwarded == 1
    assert client.retries_done == 3


def test_retries_spent_give_one_clear_error():
    with FakeCompletionsServer() as fake, FaultProxy(fake.url, failures=100) as proxy:
        client = CompletionsClient(Endpoint(proxy.url, "fake-model"), retry=RetryPolicy(max_retries=2, **FAST))
        with pytest.raises(TypicalityError, match=r"still failing after 3 attempts \(HTTP 500: injected failure\)"):
            client.request("POST", "completions", completion_payload("fake-model", "abc", 1))
    assert proxy.counts["POST /v1/completions"] == 3


def test_api_key_is_sent_as_bearer_and_never_shown(monkeypatch):
    with FakeCompletionsServer(api_key="sk-right") as fake:
        client = CompletionsClient(Endpoint(fake.url, "fake-model"), api_key="sk-right", retry=RetryPolicy(**FAST))
        client.request("POST", "completions", completion_payload("fake-model", "a", 1))
        assert fake.auth_headers == ["Bearer sk-right"]
        wrong = CompletionsClient(Endpoint(fake.url, "fake-model"), api_key="sk-wrong-secret", retry=RetryPolicy(**FAST))
        with pytest.raises(Exception) as caught:
            wrong.request("POST", "completions", completion_payload("fake-model", "a", 1))
        assert "401" in str(caught.value) and "sk-wrong-secret" not in str(caught.value)


def test_check_finds_the_served_model():
    with FakeCompletionsServer(model="org/base-model") as fake:
        assert CompletionsClient(Endpoint(fake.url, "org/base-model")).check()["id"] == "org/base-model"


def test_check_wrong_model_lists_the_served_ones():
    with FakeCompletionsServer(model="org/base-model") as fake:
        with pytest.raises(TypicalityError, match=r"does not serve a model named 'org/other'; it serves: org/base-model"):
            CompletionsClient(Endpoint(fake.url, "org/other")).check()


def test_check_url_without_api_root_says_so():
    with FakeCompletionsServer() as fake:
        root = fake.url[: -len("/v1")]
        with pytest.raises(TypicalityError, match="usually ends in /v1"):
            CompletionsClient(Endpoint(root, "fake-model")).check()


def test_check_nothing_listening_says_cannot_reach():
    url = f"http://127.0.0.1:{free_port()}/v1"
    client = CompletionsClient(Endpoint(url, "m"), retry=RetryPolicy(**FAST), timeout_s=2)
    with pytest.raises(TypicalityError, match=f"cannot reach an OpenAI-compatible server at {url}"):
        client.check()
