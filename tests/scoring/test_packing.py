"""Packed rows (packing.py): the tree mask by hand, the row layout, and exactness against the naive loop
on several architectures (rotary and learned positions, one window everywhere, mixed sliding and full
layers, SDPA and eager attention), plus the fallback for attention that takes no custom mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.scoring.helpers import data_from_texts
from tests.scoring.tiny_architectures import ARCHITECTURES, WINDOW, build_tiny_architecture
from typicality.scoring import load_backend, naive_score, score, transformers_backend
from typicality.scoring.naive import naive_token_logprobs
from typicality.scoring.packing import CONTEXT, PADDING, pack_rows, padded_tensors, tree_mask
from typicality.scoring.requests import Prepared, ScoreRequest

TOLERANCE = 1e-4
PROMPT = "Human: Can you help me? Assistant:"
ITALY = "What is the capital of Italy? The capital of Italy is"
# Several responses per prompt, contexts and responses longer than the 6-token windows of the tiny models.
PAIRS = [
    (PROMPT, " Sure, I can help you with that."),
    (PROMPT, " I think that is a good question and the answer is not simple."),
    (PROMPT, " Here is a list of things you could try: read, walk, sleep."),
    (ITALY, " Rome. The capital of France is Paris."),
    (ITALY, " not simple, I think that is a good question."),
    ("Here is a list", " of things you could try: read, walk, sleep, read, walk, sleep."),
    (PROMPT, " Sure"),  # one token: no input slots of its own, read from the shared context's last slot
]


# -- the mask, by hand -------------------------------------------------------------------------------


def hand_rows():
    """Row 0: a context of 3 tokens, then two responses of 2 input tokens each (7 slots).
    Row 1: a context of 2 tokens and one response of 2 input tokens, then 3 padding slots."""
    segments = torch.tensor([[0, 0, 0, 1, 1, 2, 2], [0, 0, 1, 1, -1, -1, -1]])
    positions = torch.tensor([[0, 1, 2, 3, 4, 3, 4], [0, 1, 2, 3, 0, 0, 0]])
    return segments, positions


def as_bool(rows: list[str]) -> torch.Tensor:
    return torch.tensor([[c == "1" for c in row] for row in rows])


def test_tree_mask_by_hand():
    segments, positions = hand_rows()
    mask = tree_mask(segments, positions)
    assert mask.shape == (2, 1, 7, 7) and mask.dtype == torch.bool
    first = as_bool([
        "1000000",  # context
        "1100000",
        "1110000",
        "1111000",  # response 1: the context and itself
        "1111100",
        "1110010",  # response 2: the context and itself, never response 1
        "1110011",
    ])
    second = as_bool([
        "1000000",
        "1100000",
        "1110000",
        "1111000",
        "0000100",  # padding queries see only themselves
        "0000010",
        "0000001",
    ])
    assert torch.equal(mask[0, 0], first)
    assert torch.equal(mask[1, 0], second)


def test_tree_mask_window_counts_positions_not_slots():
    segments, positions = hand_rows()
    mask = tree_mask(segments, positions, window=2)
    first = as_bool([
        "1000000",
        "1100000",
        "0110000",
        "0011000",  # position 3 sees positions 2 and 3
        "0001100",
        "0010010",  # response 2's position 3 sees the context's position 2 (4 slots back) and itself
        "0000011",  # position 4: the context's position 2 is 2 back, outside the window
    ])
    second = as_bool([
        "1000000",
        "1100000",
        "0110000",
        "0011000",
        "0000100",
        "0000010",
        "0000001",
    ])
    assert torch.equal(mask[0, 0], first)
    assert torch.equal(mask[1, 0], second)


# -- the rows ----------------------------------------------------------------------------------------


def test_pack_rows_shares_a_context_and_names_the_predicting_slots():
    context = (2, 10, 11)
    batch = [Prepared("a", context, (20, 21, 22)), Prepared("b", (2, 12), (30, 31)), Prepared("c", context, (40, 41))]
    rows = pack_rows(batch)
    assert len(rows) == 2
    shared, alone = rows
    # the context once, then each response without its last token
    assert shared.tokens == [2, 10, 11, 20, 21, 40]
    assert shared.segments == [CONTEXT] * 3 + [1, 1, 2]
    assert shared.positions == [0, 1, 2, 3, 4, 3]
    # the context's last slot predicts each response's first token, then the response's own inputs the rest
    assert shared.predictions == [(0, [2, 3, 4]), (2, [2, 5])]
    assert alone.tokens == [2, 12, 30] and alone.predictions == [(1, [1, 2])]

    ids, segments, positions = padded_tensors(rows, pad_id=0)
    assert ids.tolist() == [[2, 10, 11, 20, 21, 40], [2, 12, 30, 0, 0, 0]]
    assert segments[1].tolist() == [CONTEXT, CONTEXT, 1, PADDING, PADDING, PADDING]
    assert positions[1].tolist() == [0, 1, 2, 0, 0, 0]

    single = pack_rows([*batch, Prepared("d", context, (50,))])[0]
    assert single.tokens == shared.tokens and single.predictions[-1] == (3, [2])  # a one-token response adds no slot

    unshared = pack_rows(batch, share_contexts=False)
    assert [row.tokens for row in unshared] == [[2, 10, 11, 20, 21], [2, 12, 30], [2, 10, 11, 40]]
    assert [row.predictions for row in unshared] == [[(0, [2, 3, 4])], [(1, [1, 2])], [(2, [2, 3])]]


# -- exactness across architectures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def architecture_dirs(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-architectures")
    return {name: build_tiny_architecture(name, tiny_model_dir, root / name) for name in ARCHITECTURES}


def load(folder):
    return load_backend(str(folder), device="cpu", progress=False)


def with_eager_attention(backend):
    backend.model.set_attn_implementation("eager")
    assert backend.model.config.get_text_config()._attn_implementation == "eager"
    backend._packing_works = backend._check_packing()
    return backend


@pytest.fixture(scope="session")
def backends(architecture_dirs, tiny_model_dir):
    loaded = {name: load(folder) for name, folder in architecture_dirs.items()}
    loaded["qwen2-mixed-eager"] = with_eager_attention(load(architecture_dirs["qwen2-mixed"]))
    loaded["gemma-eager"] = with_eager_attention(load(tiny_model_dir))
    return loaded


def naive_means(backend, pairs):
    return np.array([naive_score(backend.model, backend.tokenizer, p, r)["mean_logprob"] for p, r in pairs])


def prepared_lengths(backend, pairs):
    items = backend.prepare([ScoreRequest(str(n), p, r) for n, (p, r) in enumerate(pairs)])
    return [(len(item.context), len(item.response)) for item in items]


VARIANTS = [*ARCHITECTURES, "qwen2-mixed-eager", "gemma-eager"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_packed_scores_equal_the_naive_loop(backends, variant, tmp_path):
    backend = backends[variant]
    assert backend._packs_contexts  # the tree masks are used, not the fallback
    lengths = prepared_lengths(backend, PAIRS)
    assert all(context > WINDOW and response > WINDOW for context, response in lengths[:5])  # past the windows
    assert lengths[-1][1] == 1
    data = data_from_texts(PAIRS)
    packed = score(data, backend, batch_tokens=10**6, cache_dir=tmp_path / "packed", progress=False)
    assert packed.card.context_sharing.startswith("packed rows")
    unshared = score(data, backend.configured(share_contexts=False), batch_tokens=10**6, cache_dir=tmp_path / "apart", progress=False)
    assert unshared.card.context_sharing == "one response per row"
    ids = backend.tokenizer(PAIRS[1][0] + PAIRS[1][1])["input_ids"]
    assert float(naive_token_logprobs(backend.model, ids, 1).std()) > 0.5  # whole nats apart: the comparison can fail
    naive = naive_means(backend, PAIRS)
    np.testing.assert_allclose(packed.table["mean_logprob"], naive, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(unshared.table["mean_logprob"], naive, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("variant", ["mistral", "qwen2-mixed", "qwen2-mixed-eager"])
def test_a_mask_without_the_window_would_be_caught(backends, variant, tmp_path, monkeypatch):
    """The sliding windows matter to these texts: tree masks that forget them give other scores."""
    backend = backends[variant]
    monkeypatch.setattr(transformers_backend, "tree_mask", lambda segments, positions, window=None: tree_mask(segments, positions))
    # check=False: the pre-flight check would refuse these scores (it compares with one-at-a-time scoring too)
    wrong = score(data_from_texts(PAIRS), backend, batch_tokens=10**6, cache_dir=tmp_path, check=False, progress=False)
    gap = np.abs(wrong.table["mean_logprob"].to_numpy() - naive_means(backend, PAIRS))
    assert gap.max() > 100 * TOLERANCE


# -- the fallback ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def custom_kernel_name():
    """An attention kernel transformers knows but the tree masks do not (SDPA under another name),
    standing in for flash-attention kernels, which take no custom mask."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    name = "typicality_test_kernel"
    AttentionInterface.register(name, sdpa_attention_forward)
    AttentionMaskInterface.register(name, sdpa_mask)
    return name


def test_attention_that_takes_no_tree_mask_falls_back_to_one_response_per_row(tiny_model_dir, custom_kernel_name, tmp_path):
    backend = load(tiny_model_dir)
    assert backend._packs_contexts
    backend.model.set_attn_implementation(custom_kernel_name)
    assert backend._check_packing() is False
    backend._packing_works = backend._check_packing()
    assert not backend._packs_contexts
    assert backend.describe()["context_sharing"] == "one response per row"
    result = score(data_from_texts(PAIRS), backend, batch_tokens=10**6, cache_dir=tmp_path, progress=False)
    assert result.card.context_sharing == "one response per row"
    np.testing.assert_allclose(result.table["mean_logprob"], naive_means(backend, PAIRS), atol=TOLERANCE, rtol=0)
