"""Packed rows in half precision: the packing check (transformers_backend.py) tells rounding from a wrong
mask by the dtype's own precision, so bfloat16 (the GPU default) and float16 pack when the mask is right
and refuse when it is wrong, as float32 does; and bfloat16's packed scores are its unpacked ones up to
bfloat16's rounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import shared_file
from tests.scoring.tiny_architectures import ARCHITECTURES, build_tiny_architecture
from typicality.data import load
from typicality.errors import TypicalityError
from typicality.scoring import load_backend, score, transformers_backend
from typicality.scoring.packing import CONTEXT, pack_rows, tree_mask
from typicality.scoring.requests import Prepared
from typicality.scoring.transformers_backend import packing_tolerance

DTYPES = ("float32", "bfloat16", "float16")


def second_response_sees_the_first(segments, positions, window=None):
    """A wrong tree mask: every response in one segment, so the second response of a row attends to the first's tokens."""
    return tree_mask(segments.clamp(max=CONTEXT + 1), positions, window)


def test_the_tolerance_is_eight_units_of_the_dtypes_rounding_over_float32s():
    # eps by the bits of the significand: 2^-23 (float32), 2^-7 (bfloat16), 2^-10 (float16)
    assert packing_tolerance(torch.float32) == pytest.approx(1e-4 + 8 * 2**-23)
    assert packing_tolerance(torch.bfloat16) == pytest.approx(1e-4 + 8 * 2**-7)
    assert packing_tolerance(torch.float16) == pytest.approx(1e-4 + 8 * 2**-10)


# -- the tests' tiny models, every dtype -------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_folders(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-architectures-precision")
    return {"gemma": tiny_model_dir, **{name: build_tiny_architecture(name, tiny_model_dir, root / name) for name in ARCHITECTURES}}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("architecture", ["gemma", *ARCHITECTURES])
def test_every_dtype_packs_with_the_right_mask_and_refuses_a_wrong_one(tiny_folders, architecture, dtype, monkeypatch):
    backend = load_backend(str(tiny_folders[architecture]), device="cpu", dtype=dtype, progress=False)
    tolerance = packing_tolerance(backend.torch_dtype)
    right = backend._packing_deviation()
    assert right <= tolerance / 2  # rounding, with room (measured: at most 0.39 of the tolerance, float16 Qwen2)
    assert backend._packs_contexts and backend.describe()["context_sharing"].startswith("packed rows")

    monkeypatch.setattr(transformers_backend, "tree_mask", second_response_sees_the_first)
    wrong = backend._packing_deviation()
    assert wrong > 2 * tolerance  # measured: at least 0.56 of the largest output, 9x bfloat16's tolerance
    assert backend._check_packing() is False


# -- the embedded Gemma 3 270M in bfloat16, on real responses -----------------------------------------


@pytest.fixture(scope="module")
def gemma_bfloat16():
    return load_backend("gemma-3-270m", device="cpu", dtype="bfloat16", progress=False)


@pytest.fixture(scope="module")
def hh_pairs():
    """Four real helpful-base pairs (eight responses, two to a prompt)."""
    return load("hh-rlhf", data_files=str(shared_file("hh-rlhf", "helpful-base", "test.jsonl.gz")), limit=4, seed=0)


def deviation_by_hand(backend) -> float:
    """The packing check's figure computed another way: the probe's second (longer) response packed after
    the first, against the model run by hand on the context and that response alone (no padding, no mask)."""
    def encode(text: str) -> tuple[int, ...]:
        return tuple(backend.tokenizer(text, add_special_tokens=False)["input_ids"])

    context = (backend.tokenizer.bos_token_id, *encode("Human: What is the capital of France? Assistant:"))
    first, second = encode(" Paris, of course."), encode(" I think that it is Rome, but I am not sure.")
    with torch.inference_mode():
        (row,) = pack_rows([Prepared("a", context, first), Prepared("b", context, second)])
        packed = backend._forward([row], packed=True)[0, row.predictions[1][1]].float()
        alone = backend.model.base_model(input_ids=torch.tensor([[*context, *second[:-1]]])).last_hidden_state[0, len(context) - 1 :].float()
    return float((packed - alone).abs().max() / alone.abs().max())


@pytest.mark.slow
def test_gemma_in_bfloat16_packs_and_refuses_a_wrong_mask(gemma_bfloat16, monkeypatch):
    backend = gemma_bfloat16
    assert backend._packing_works and backend.describe()["context_sharing"].startswith("packed rows")
    right = backend._packing_deviation()
    assert right == pytest.approx(deviation_by_hand(backend), rel=1e-3)  # the first response, a prefix of the row, agrees exactly
    # Rounding: a few bfloat16 units (eps 2^-7) at the largest output, not the float32 tolerance of before
    assert 1e-4 < right <= 3 * 2**-7 < packing_tolerance(torch.bfloat16)
    monkeypatch.setattr(transformers_backend, "tree_mask", second_response_sees_the_first)
    assert backend._packing_deviation() > 3 * packing_tolerance(torch.bfloat16)  # measured 0.29
    assert backend._check_packing() is False


def per_token_gap(first, second) -> float:
    """Sum over responses of |difference in summed log-probability|, over all their tokens: nats per token,
    weighted by length (a per-response mean of a 6-token response moves by 0.07 when one token rounds the other way)."""
    assert first["response_id"].tolist() == second["response_id"].tolist() and first["n_tokens"].tolist() == second["n_tokens"].tolist()
    return float(np.abs(first["sum_logprob"] - second["sum_logprob"]).sum() / first["n_tokens"].sum())


@pytest.mark.slow
def test_gemma_in_bfloat16_packed_scores_are_its_unpacked_scores_up_to_rounding(gemma_bfloat16, gemma, hh_pairs, tmp_path, monkeypatch):
    packed = score(hh_pairs, gemma_bfloat16, cache_dir=tmp_path / "packed", progress=False)
    assert packed.card.context_sharing.startswith("packed rows")
    apart = score(hh_pairs, gemma_bfloat16.configured(share_contexts=False), cache_dir=tmp_path / "apart", progress=False)
    assert apart.card.context_sharing == "one response per row"
    float32 = score(hh_pairs, gemma, cache_dir=tmp_path / "float32", progress=False)
    packing_gap, rounding_gap = per_token_gap(packed.table, apart.table), per_token_gap(apart.table, float32.table)
    # Packing moves bfloat16's scores by bfloat16's rounding: the order of bfloat16's distance from
    # float32 (measured 0.0036 and 0.0042 nats per token here; 0.0031 and 0.0043 on 40 pairs), and within 0.01.
    assert packing_gap <= 2 * rounding_gap and packing_gap <= 0.01

    # A wrong mask moves them by far more: the packing check passed at load, so scoring uses the patched mask.
    monkeypatch.setattr(transformers_backend, "tree_mask", second_response_sees_the_first)
    wrong = score(hh_pairs, gemma_bfloat16, cache_dir=tmp_path / "wrong", check=False, progress=False)
    assert per_token_gap(wrong.table, apart.table) > 0.1  # measured 0.97


def test_a_model_that_overflows_the_dtype_is_refused_at_load_with_the_fix():
    """Gemma's activations overflow float16 (every logit NaN): one clear message at load, not NaN scores."""
    with pytest.raises(TypicalityError, match=r"non-finite logits in float16.*use --dtype bfloat16 or --dtype float32"):
        load_backend("gemma-3-270m", device="cpu", dtype="float16", progress=False)
