"""Split the responses of one scoring job into n deterministic shards (`--shard i/n`).

A response's shard depends only on its `response_id` (itself a hash of the prompt and
response text), so every machine of a job array computes the same split without talking to
the others, whatever the order or subset of rows it loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from typicality.errors import TypicalityError


def parse_shard(text: str) -> tuple[int, int]:
    """`"i/n"` -> (i, n), with 0 <= i < n; a clear error otherwise."""
    index, sep, count = str(text).partition("/")
    try:
        if not sep:
            raise ValueError
        index_value, count_value = int(index), int(count)
    except ValueError:
        raise TypicalityError(f"--shard {text!r}: expected I/N with whole numbers, e.g. --shard 0/8 (the first of 8 shards)") from None
    if count_value < 1 or not 0 <= index_value < count_value:
        raise TypicalityError(f"--shard {text!r}: need 0 <= I < N and N >= 1 (shards are numbered 0..N-1), e.g. --shard 0/{max(count_value, 1)}")
    return index_value, count_value


def shard_of(response_id: str, count: int) -> int:
    """The shard (0..count-1) a response belongs to: sha256 of its id, modulo count."""
    digest = hashlib.sha256(str(response_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def in_shard(response_ids: Iterable[str], index: int, count: int) -> np.ndarray:
    """A boolean mask: which of these responses shard `index` of `count` scores."""
    return np.array([shard_of(rid, count) == index for rid in response_ids], dtype=bool)
