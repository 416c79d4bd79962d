"""The transformers backend on a tiny random model: exact against the naive computation, whatever the batching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.scoring.helpers import data_from_texts
from typicality.errors import TypicalityError
from typicality.scoring import load_backend, naive_score, score
from typicality.scoring.naive import naive_token_logprobs
from typicality.scoring.requests import ScoreRequest

PROMPT = "Human: Can you help me? Assistant:"
PAIRS = [
    (PROMPT, " Sure, I can help you with that."),
    (PROMPT, " I think that is a good question and the answer is not simple."),
    ("What is the capital of Italy?", " The capital of Italy is Rome."),
    ("What is the capital of Italy?", " Rome."),
    ("Here is a list of things you could try:", " read, walk, sleep, read, walk, sleep, and then read again."),
    ("The capital of Italy is ", "Rome."),  # the trailing space joins "Rome" ("ĠRome" spans the join)
    ("Human: Can you help me? Assistant: ", "Sure."),  # the trailing space joins "Sure"
]
TOLERANCE = 1e-4


def naive_means(backend, pairs, bos=True):
    return np.array([naive_score(backend.model, backend.tokenizer, p, r, bos=bos)["mean_logprob"] for p, r in pairs])


def test_the_tiny_model_is_not_trivial(tiny):
    ids = tiny.tokenizer(PAIRS[1][0] + PAIRS[1][1])["input_ids"]
    logprobs = naive_token_logprobs(tiny.model, ids, 1)
    assert float(logprobs.std()) > 0.5  # scores differ by more than rounding: the checks below can fail


def test_scores_equal_the_naive_computation(tiny, tmp_path):
    result = score(data_from_texts(PAIRS), tiny, cache_dir=tmp_path, progress=False)
    assert result.card.output_layer == "response positions only"  # the fast path, not the fallback
    np.testing.assert_allclose(result.table["mean_logprob"], naive_means(tiny, PAIRS), atol=TOLERANCE, rtol=0)
    naive_counts = [naive_score(tiny.model, tiny.tokenizer, p, r)["n_tokens"] for p, r in PAIRS]
    assert result.table["n_tokens"].tolist() == naive_counts
    np.testing.assert_allclose(result.table["sum_logprob"] / result.table["n_tokens"], result.table["mean_logprob"])


def test_batch_size_and_context_sharing_do_not_change_scores(tiny, tmp_path):
    data = data_from_texts(PAIRS)
    one_by_one = score(data, tiny, batch_tokens=1, cache_dir=tmp_path / "a", progress=False)
    all_at_once = score(data, tiny, batch_tokens=10**6, cache_dir=tmp_path / "b", progress=False)
    unshared = score(data, tiny.configured(share_contexts=False), batch_tokens=10**6, cache_dir=tmp_path / "c", progress=False)
    assert all_at_once.card.context_sharing.startswith("packed rows")  # the tiny Gemma takes the tree masks
    assert unshared.card.context_sharing == "one response per row"
    reference = one_by_one.table["mean_logprob"].to_numpy()
    np.testing.assert_allclose(all_at_once.table["mean_logprob"], reference, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(unshared.table["mean_logprob"], reference, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(reference, naive_means(tiny, PAIRS), atol=TOLERANCE, rtol=0)


def test_boundary_merges_are_flagged_counted_and_exact(tiny, tmp_path):
    result = score(data_from_texts(PAIRS), tiny, cache_dir=tmp_path, progress=False)
    expected = [naive_score(tiny.model, tiny.tokenizer, p, r)["boundary_merged"] for p, r in PAIRS]
    assert expected == [False] * 5 + [True, True]  # the two constructed cases, and only they
    assert result.table["boundary_merged"].tolist() == expected
    assert result.card.boundary_merged == 2
    rome = tiny.tokenizer.convert_ids_to_tokens(tiny.tokenizer("The capital of Italy is Rome.")["input_ids"])
    assert any(token.startswith("Ġ") and token != "Ġ" and "R" in token for token in rome)  # the merged token exists


def test_long_prompt_is_cut_from_the_left_and_scored_as_the_naive_computation_on_the_cut_text(tiny, tmp_path):
    prompt, response = " ".join(["The capital of France is Paris."] * 8), " Rome."
    short = tiny.configured(max_length=24)
    result = score(data_from_texts([(prompt, response)]), short, cache_dir=tmp_path, progress=False)
    row = result.table.iloc[0]
    bos, prompt_ids = tiny.tokenizer.bos_token_id, tiny.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    joint = tiny.tokenizer(prompt + response, add_special_tokens=False)["input_ids"]
    response_ids = joint[len(prompt_ids) :]
    assert joint[: len(prompt_ids)] == prompt_ids and len(prompt_ids) > 24
    kept = [bos] + prompt_ids[-(24 - 1 - len(response_ids)) :]
    expected = naive_token_logprobs(tiny.model, kept + response_ids, len(kept))
    assert (row["prompt_truncated"], row["truncated"], row["n_tokens"]) == (True, False, len(response_ids))
    assert math.isclose(row["sum_logprob"], float(expected.sum()), abs_tol=TOLERANCE * len(response_ids))
    assert result.card.prompt_truncated == 1 and result.card.response_truncated == 0
    assert result.card.window == 24


def test_response_longer_than_the_window_is_cut_and_flagged(tiny, tmp_path):
    prompt, response = "Question:", " read, walk, sleep," * 12
    short = tiny.configured(max_length=16)
    result = score(data_from_texts([(prompt, response)]), short, cache_dir=tmp_path, progress=False)
    row = result.table.iloc[0]
    bos, prompt_ids = tiny.tokenizer.bos_token_id, tiny.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    response_ids = tiny.tokenizer(prompt + response, add_special_tokens=False)["input_ids"][len(prompt_ids) :]
    expected = naive_token_logprobs(tiny.model, [bos] + response_ids[:15], 1)
    assert (row["prompt_truncated"], row["truncated"], row["n_tokens"]) == (True, True, 15)
    assert math.isclose(row["mean_logprob"], float(expected.mean()), abs_tol=TOLERANCE)
    assert result.card.response_truncated == 1


def test_bos_policy_is_explicit_recorded_and_exact(tiny, tmp_path):
    without = tiny.configured(bos="never")
    assert tiny.identity.bos and not without.identity.bos
    assert tiny.identity.fingerprint() != without.identity.fingerprint()
    pairs = PAIRS[:3]
    result = score(data_from_texts(pairs), without, cache_dir=tmp_path, progress=False)
    np.testing.assert_allclose(result.table["mean_logprob"], naive_means(tiny, pairs, bos=False), atol=TOLERANCE, rtol=0)
    assert result.card.bos is False
    (prepared,) = tiny.prepare([ScoreRequest("k", *PAIRS[0])])
    assert prepared.context.count(tiny.tokenizer.bos_token_id) == 1  # the tokenizer adds BOS too: not twice


def test_full_logits_fallback_gives_the_same_scores(tiny, tmp_path):
    fallback = tiny.configured()
    fallback._head_is_exact = False  # as for a model whose head the fast path cannot reproduce
    fast = score(data_from_texts(PAIRS), tiny, cache_dir=tmp_path / "a", progress=False)
    slow = score(data_from_texts(PAIRS), fallback, cache_dir=tmp_path / "b", progress=False)
    np.testing.assert_allclose(slow.table["mean_logprob"], fast.table["mean_logprob"], atol=TOLERANCE, rtol=0)


def test_blank_and_unencodable_responses_are_counted_skips(tiny, tmp_path):
    pairs = [PAIRS[0], (PROMPT, ""), (PROMPT, "  \n\t"), (PROMPT, " bad \ud800 text"), PAIRS[2]]
    result = score(data_from_texts(pairs), tiny, cache_dir=tmp_path, progress=False)
    table = result.table
    reasons = table["skipped"].fillna("scored").tolist()  # scored rows have no reason (missing)
    assert reasons == ["scored", "empty response", "whitespace-only response", "text the tokenizer cannot encode", "scored"]
    assert table.loc[1:3, "mean_logprob"].isna().all() and (table.loc[1:3, "n_tokens"] == 0).all()
    assert table.loc[[0, 4], "mean_logprob"].notna().all()
    assert result.card.skipped == {"empty response": 1, "whitespace-only response": 1, "text the tokenizer cannot encode": 1}
    assert result.card.n_scored == 2 and len(result.scored) == 2


def test_a_model_that_will_not_load_is_named_with_the_reason(tmp_path):
    with pytest.raises(TypicalityError, match="no-such-folder.*no such file or folder"):
        load_backend(str(tmp_path / "no-such-folder"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(TypicalityError, match="has no config.json"):
        load_backend(str(tmp_path / "empty"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "gemma3_text", "hidden_size": "not a number"')
    with pytest.raises(TypicalityError, match=r"Could not load model '.*broken'"):
        load_backend(str(broken))
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(TypicalityError, match="not a .gguf"):
        load_backend(str(tmp_path / "weights.bin"))


def test_unknown_options_are_clear(tiny):
    with pytest.raises(TypicalityError, match="max-length 100000"):
        tiny.configured(max_length=100_000)
    with pytest.raises(TypicalityError, match="--bos"):
        tiny.configured(bos="sometimes")
    with pytest.raises(TypicalityError, match="no chat template"):
        tiny.configured(chat_template=True)
    with pytest.raises(TypicalityError, match="cannot change dtype"):
        tiny.configured(dtype="bfloat16")
    with pytest.raises(TypicalityError, match="Unknown scoring backend"):
        load_backend("x", backend="nope")
    assert torch.get_num_threads() >= 1


def test_log_softmax_shifted_by_the_target_equals_the_textbook_one_even_where_it_overflows(tiny, monkeypatch):
    # Rows where some logit exceeds the target's by more than 88 nats overflow the shifted sum and are
    # redone shifted by their maximum; both must equal torch's log_softmax.
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 50, generator=generator) * 5
    logits[1, 7] = 500.0  # the target of row 1 (0) is 500+ nats below this logit: p ~ 1e-217 underflows, the sum overflows
    logits[4, 3] = -300.0  # a target far below everything: overflows too
    targets = torch.tensor([0, 0, 5, 9, 3, 49])
    monkeypatch.setattr(tiny, "_logits", lambda rows: logits[rows.long()].clone())
    got = tiny._token_logprobs(torch.arange(6, dtype=torch.float32), targets)
    expected = torch.log_softmax(logits.double(), dim=-1)[torch.arange(6), targets]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-4)
    assert got[1] < -400 and got[4] < -200
