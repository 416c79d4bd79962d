"""`--shard i/n`: a deterministic, complete, disjoint split of responses by the hash of their id."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from typicality.data import response_id_for
from typicality.errors import TypicalityError
from typicality.scoring.sharding import in_shard, parse_shard, shard_of


def test_parse_shard():
    assert parse_shard("0/1") == (0, 1)
    assert parse_shard("7/8") == (7, 8)
    for bad in ["8/8", "-1/4", "1", "a/b", "0/0"]:
        with pytest.raises(TypicalityError, match="--shard"):
            parse_shard(bad)


def test_shards_partition_the_responses_evenly_and_deterministically():
    ids = [response_id_for(f"prompt {i % 97}", f"response {i}") for i in range(4000)]
    masks = [in_shard(ids, index, 4) for index in range(4)]
    assert (np.sum(masks, axis=0) == 1).all()  # every response in exactly one shard
    sizes = [int(mask.sum()) for mask in masks]
    # Binomial(4000, 1/4): sd = sqrt(4000 * 1/4 * 3/4) ~ 27; 5 sd either side.
    assert all(abs(size - 1000) < 140 for size in sizes)
    # The same answer computed independently, in another order.
    expected = {rid: int(hashlib.sha256(rid.encode()).hexdigest()[:16], 16) % 4 for rid in reversed(ids)}
    assert all(shard_of(rid, 4) == expected[rid] for rid in ids)
    assert (in_shard(ids[::-1], 2, 4) == masks[2][::-1]).all()  # order does not matter
