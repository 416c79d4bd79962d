"""The embedded Gemma 3 270M on real HH-RLHF responses: exact, batch-independent, resumable after kill -9.

Slow: loads the real model once per session (converting it into the typicality cache the
first time, about 100 s, reused by later runs).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared_file
from tests.scoring.helpers import data_from_texts
from typicality.data import load
from typicality.scoring import naive_score, score
from typicality.scoring.naive import naive_token_logprobs
from typicality.scoring.requests import ScoreRequest

pytestmark = pytest.mark.slow
TOLERANCE = 1e-4
ROOT = Path(__file__).resolve().parents[2]


def short_pairs(subset: str, n_prompts: int, seed: int, max_chars: int = 700):
    """A seeded sample of real HH-RLHF prompt groups whose prompt and responses are short (a lean test)."""
    data = load("hh-rlhf", data_files=str(shared_file("hh-rlhf", subset, "test.jsonl.gz")))
    responses = data.responses
    size = responses["prompt"].str.len() + responses["response"].str.len()
    short_prompts = responses.groupby("prompt_id").filter(lambda g: (size[g.index] <= max_chars).all())["prompt_id"].unique()
    keep = set(np.random.default_rng(seed).choice(np.sort(short_prompts), size=n_prompts, replace=False))
    data.responses = responses[responses["prompt_id"].isin(keep)].reset_index(drop=True)
    data.comparisons = data.comparisons[data.comparisons["prompt_id"].isin(keep)].reset_index(drop=True)
    return data


@pytest.fixture(scope="module")
def hh_sample():
    """Three helpful-base and two harmless-base pairs: ten real responses."""
    helpful, harmless = short_pairs("helpful-base", 3, seed=1), short_pairs("harmless-base", 2, seed=2)
    helpful.responses = pd.concat([helpful.responses, harmless.responses], ignore_index=True)
    return helpful


@pytest.fixture(scope="module")
def naive_reference(gemma, hh_sample):
    return [naive_score(gemma.model, gemma.tokenizer, p, r) for p, r in zip(hh_sample.responses["prompt"], hh_sample.responses["response"])]


def test_real_responses_match_the_naive_computation(gemma, hh_sample, naive_reference, tmp_path):
    result = score(hh_sample, gemma, cache_dir=tmp_path, progress=False)
    assert result.card.output_layer == "response positions only" and result.card.bos is True
    np.testing.assert_allclose(result.table["mean_logprob"], [n["mean_logprob"] for n in naive_reference], atol=TOLERANCE, rtol=0)
    assert result.table["n_tokens"].tolist() == [n["n_tokens"] for n in naive_reference]
    assert result.table["mean_logprob"].between(-8, -0.3).all()  # Gemma with BOS: plausible English, not garbage


def test_batching_and_context_sharing_do_not_change_real_scores(gemma, hh_sample, naive_reference, tmp_path):
    one_by_one = score(hh_sample, gemma, batch_tokens=1, cache_dir=tmp_path / "a", progress=False)
    right = score(hh_sample, gemma.configured(share_contexts=False), batch_tokens=10**6, cache_dir=tmp_path / "b", progress=False)
    reference = [n["mean_logprob"] for n in naive_reference]
    np.testing.assert_allclose(one_by_one.table["mean_logprob"], reference, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(right.table["mean_logprob"], reference, atol=TOLERANCE, rtol=0)


def test_bos_is_added_exactly_once(gemma):
    (prepared,) = gemma.prepare([ScoreRequest("k", "\n\nHuman: Hi\n\nAssistant:", " Hello!")])
    bos = gemma.tokenizer.bos_token_id
    assert prepared.context[0] == bos and prepared.context.count(bos) == 1
    assert gemma.tokenizer("Hi")["input_ids"][0] == bos  # the tokenizer would add one too; we do not double it


def test_a_token_spanning_the_join_with_the_gemma_tokenizer(gemma, tmp_path):
    # Prompts ending in a space: the tokenizer glues it to the response's first word ("▁capital").
    pairs = [("Paris is the ", "capital of France."), ("\n\nHuman: Say yes.\n\nAssistant: ", "Sure")]
    result = score(data_from_texts(pairs), gemma, cache_dir=tmp_path, progress=False)
    naive = [naive_score(gemma.model, gemma.tokenizer, p, r) for p, r in pairs]
    assert [n["boundary_merged"] for n in naive] == [True, True]
    assert result.table["boundary_merged"].tolist() == [True, True] and result.card.boundary_merged == 2
    np.testing.assert_allclose(result.table["mean_logprob"], [n["mean_logprob"] for n in naive], atol=TOLERANCE, rtol=0)
    assert "▁capital" in gemma.tokenizer.convert_ids_to_tokens(gemma.tokenizer("Paris is the capital")["input_ids"])


def test_forced_window_cuts_a_real_prompt_from_the_left(gemma, hh_sample, tmp_path):
    prompt, response = hh_sample.responses.loc[0, ["prompt", "response"]]
    tokenizer, window = gemma.tokenizer, 48
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(prompt + response, add_special_tokens=False)["input_ids"][len(prompt_ids) :]
    assert len(response_ids) < window - 1 < len(prompt_ids) + len(response_ids)
    result = score(data_from_texts([(prompt, response)]), gemma.configured(max_length=window), cache_dir=tmp_path, progress=False)
    kept = [tokenizer.bos_token_id] + prompt_ids[-(window - 1 - len(response_ids)) :]
    expected = naive_token_logprobs(gemma.model, kept + response_ids, len(kept))
    row = result.table.iloc[0]
    assert (row["prompt_truncated"], row["truncated"], row["n_tokens"]) == (True, False, len(response_ids))
    assert abs(row["mean_logprob"] - float(expected.mean())) < TOLERANCE


def test_kill_9_midway_loses_at_most_the_batch_in_flight(gemma, tmp_path):
    data_file = shared_file("hh-rlhf", "helpful-base", "test.jsonl.gz")
    cache_dir, out = tmp_path / "cache", tmp_path / "scores.parquet"
    loader = ["hh-rlhf", "--data-files", str(data_file), "--limit", "6", "--seed", "3"]
    command = [
        sys.executable,
        "-m",
        "typicality.cli",
        "score",
        *loader,
        "--batch-tokens",
        "200",
        "--cache-dir",
        str(cache_dir),
        "--out",
        str(out),
        "--no-progress",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    database = cache_dir / "scores.sqlite"
    committed = 0
    deadline = time.monotonic() + 300
    while committed == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        committed = _count_rows(database)
    assert process.poll() is None, f"the run ended before it could be killed: {process.communicate()[1].decode()[-2000:]}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists()

    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    survived = _count_rows(database)
    data = load("hh-rlhf", data_files=str(data_file), limit=6, seed=3)
    assert committed <= survived < len(data.responses)  # every commit survived; the run was stopped midway

    resumed = score(data, gemma, batch_tokens=200, cache_dir=cache_dir, progress=False)
    assert resumed.card.n_from_cache == survived and resumed.card.n_computed == len(data.responses) - survived
    some = resumed.table.iloc[:2]
    rows = data.responses.set_index("response_id").loc[some["response_id"]]
    naive = [naive_score(gemma.model, gemma.tokenizer, p, r)["mean_logprob"] for p, r in zip(rows["prompt"], rows["response"])]
    np.testing.assert_allclose(some["mean_logprob"], naive, atol=TOLERANCE, rtol=0)


def _count_rows(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
