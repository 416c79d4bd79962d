"""`score()` through an endpoint: cache, resume, zero requests on a re-run, shards and their merge."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.scoring.openai_servers import FakeCompletionsServer, FaultProxy, char_logprob
from typicality.data import Accounting
from typicality.data.build import from_pairs
from typicality.errors import TypicalityError
from typicality.scoring import load_backend
from typicality.scoring.cache_merge import merge_caches
from typicality.scoring.openai_client import RetryPolicy
from typicality.scoring.runner import score

FAST = RetryPolicy(max_retries=3, base_s=0.01, cap_s=0.02)


def synthetic_data(n: int = 30):
    prompts = [f"\n\nHuman: tell me about item {i}\n\nAssistant:" for i in range(n)]
    chosen = [f" Item {i} is a fine thing{'!' * (i % 4)}" for i in range(n)]
    rejected = [f" No idea about {i}." for i in range(n)]
    return from_pairs("synthetic", prompts, chosen, rejected, [1.0] * n, Accounting())


def hand_scores(data) -> pd.Series:
    means = {row.response_id: sum(map(char_logprob, row.response)) / len(row.response) for row in data.responses.itertuples()}
    return pd.Series(means)


def test_score_through_endpoint_resumes_and_rerun_sends_nothing(tmp_path):
    data = synthetic_data()
    with FakeCompletionsServer() as fake, FaultProxy(fake.url, failures=10**6, after=25) as proxy:
        backend = load_backend(f"openai:{proxy.url}#fake-model", concurrency=2, retry=FAST)
        # check=False: the pre-flight's requests would be counted too (test_preflight_* covers it)
        with pytest.raises(TypicalityError, match="still failing"):
            score(data, backend, cache_dir=tmp_path, progress=False, check=False)
        assert proxy.forwarded == 25
        proxy.failures_left = 0  # the server is healthy again
        resumed = score(data, backend, cache_dir=tmp_path, progress=False, check=False)
        assert proxy.forwarded == len(data.responses)  # only the 35 missing ones were requested
        assert resumed.card.n_from_cache == 25 and resumed.card.n_computed == len(data.responses) - 25
        again = score(data, backend, cache_dir=tmp_path, progress=False, check=False)
        assert proxy.forwarded == len(data.responses) and again.card.n_computed == 0
    table = resumed.table.set_index("response_id")
    expected = hand_scores(data)
    assert table["mean_logprob"].to_dict() == pytest.approx(expected.to_dict(), abs=1e-12)
    assert (table["n_tokens"] == data.responses.set_index("response_id")["response"].str.len()).all()
    assert table["model"].iloc[0] == again.fingerprint and "fake-model" in again.fingerprint
    assert again.card.backend == "openai" and again.card.endpoint == proxy.url


def test_shards_then_merge_equal_one_run_and_cost_no_more_requests(tmp_path):
    data = synthetic_data(40)
    with FakeCompletionsServer() as fake:
        spec = f"openai:{fake.url}#fake-model"
        parts = [score(data, spec, cache_dir=tmp_path / f"shard-{i}", shard=f"{i}/3", progress=False, check=False) for i in range(3)]
        assert sum(len(p.table) for p in parts) == len(data.responses)
        assert set().union(*(set(p.table["response_id"]) for p in parts)) == set(data.responses["response_id"])
        assert [p.card.shard for p in parts] == ["0/3", "1/3", "2/3"]
        sent = fake.counts["POST /v1/completions"]
        report = merge_caches(tmp_path / "merged", [tmp_path / f"shard-{i}" for i in range(3)])
        assert report.total_rows == len(data.responses)
        whole = score(data, spec, cache_dir=tmp_path / "merged", progress=False, check=False)
        assert fake.counts["POST /v1/completions"] == sent == len(data.responses)
    assert whole.card.n_computed == 0
    combined = pd.concat([p.table for p in parts]).set_index("response_id").sort_index()
    pd.testing.assert_frame_equal(combined, whole.table.set_index("response_id").sort_index())
