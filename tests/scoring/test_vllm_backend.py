"""The vLLM backend (`vllm:MODEL`) on vLLM's CPU build: the same tokens and, in float32, the same scores as the transformers scorer.

Both backends tokenize with the project's rules (local_tokenizer.py), so the token counts and
the boundary flags must be identical, and the log-probabilities may differ only by the
engines' arithmetic (vLLM's CPU kernels against torch's): measured on 20 helpful-base pairs
(`benchmarks/bench_vllm_agreement.py --pairs 20`), at most 3.2e-5 nats per token; the tests
allow AGREEMENT, 30 times that, still far below what a BOS or boundary error moves.
One engine per test session (conftest's `vllm_engine`; a start costs about a minute on 2 cores); the data are short real
conversations, since vLLM's CPU build scores ~100 tokens/s here.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.scoring.helpers import short_hh_conversations
from typicality.scoring.cache import ScoreCache
from typicality.scoring.check import check_backend
from typicality.scoring.runner import score

pytestmark = pytest.mark.slow

AGREEMENT = 1e-3  # max |difference| of a response's mean log-likelihood, nats per token (float32)
N_PROMPTS = 4
MAX_CHARS = 600  # prompt + both responses, per conversation


@pytest.fixture(scope="module")
def engine(vllm_engine):
    return vllm_engine


@pytest.fixture(scope="module")
def hh_short():
    """A seeded sample of short real helpful-base conversations (two responses each)."""
    return short_hh_conversations(N_PROMPTS, MAX_CHARS, seed=5)


def test_the_engine_passes_the_check_and_agrees_token_by_token_with_the_transformers_scorer(engine, gemma):
    """`typicality check vllm:gemma-3-270m --against gemma-3-270m`: BOS, boundary, finite, batched = one at a time, agreement."""
    report = check_backend(engine, against=gemma, against_tolerance=AGREEMENT)
    assert report.passed, report.to_dict()
    names = [check.name for check in report.checks]
    assert names == ["bos", "boundary", "finite", "invariance", "agreement"]
    agreement = next(check.detail for check in report.checks if check.name == "agreement")
    assert agreement.split(" of ")[0] == agreement.split(" of ")[1].split(" ")[0]  # every response token aligned


def test_scores_agree_with_the_transformers_scorer_and_are_cached(engine, gemma, hh_short, tmp_path):
    mine = score(hh_short, engine, cache_dir=tmp_path, progress=False)
    theirs = score(hh_short, gemma, cache_dir=tmp_path, progress=False)
    a, b = mine.table.set_index("response_id"), theirs.table.set_index("response_id").loc[mine.table["response_id"]]
    assert a["skipped"].isna().all() and len(a) == 2 * N_PROMPTS
    np.testing.assert_array_equal(a["n_tokens"], b["n_tokens"])  # the same tokens: one tokenizer, one set of rules
    np.testing.assert_array_equal(a["boundary_merged"], b["boundary_merged"])
    np.testing.assert_allclose(a["mean_logprob"], b["mean_logprob"], rtol=0, atol=AGREEMENT)
    assert not np.allclose(a["mean_logprob"], a["mean_logprob"].iloc[0])  # real, differing scores

    card = mine.card
    assert card.backend == "vllm" and card.dtype == "float32" and card.prefix_caching is False
    assert card.fingerprint != theirs.card.fingerprint and card.check["passed"] is True  # pre-flight ran
    assert card.n_computed == len(a) and card.tokens_per_s > 0
    with ScoreCache(tmp_path) as cache:
        rows = cache.get_many(card.fingerprint, list(cache_keys(hh_short)))
    assert len(rows) == len(a)
    again = score(hh_short, engine, cache_dir=tmp_path, progress=False)
    assert again.card.n_computed == 0 and again.card.n_from_cache == len(a)
    np.testing.assert_array_equal(again.table["sum_logprob"], mine.table["sum_logprob"])


def test_a_long_prompt_is_cut_from_the_left_as_the_transformers_scorer_cuts_it(engine, gemma, tmp_path):
    """The window rule on both: the engine's window (max_model_len less the generated token) applied by the project."""
    from tests.scoring.helpers import data_from_texts

    long_prompt = " ".join(f"word{i}" for i in range(1500)) + "\n\nAssistant:"
    data = data_from_texts([(long_prompt, " A short answer."), ("Hi", " there, friend.")])
    mine = score(data, engine, cache_dir=tmp_path, progress=False, check=False)
    theirs = score(data, gemma, max_length=engine.window, cache_dir=tmp_path, progress=False)
    assert mine.table["prompt_truncated"].tolist() == [True, False] == theirs.table["prompt_truncated"].tolist()
    np.testing.assert_array_equal(mine.table["n_tokens"], theirs.table["n_tokens"])
    np.testing.assert_allclose(mine.table["mean_logprob"], theirs.table["mean_logprob"], rtol=0, atol=AGREEMENT)


def cache_keys(data):
    from typicality.scoring.requests import text_key

    return (text_key(p, r) for p, r in zip(data.responses["prompt"], data.responses["response"]))
