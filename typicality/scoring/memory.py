"""Freed memory kept inside the process while a model scores on CPU (glibc malloc), given back after.

glibc returns an allocation over its mmap threshold (128 KiB, rising by itself to at most
32 MiB) to the kernel as soon as it is freed, and trims the top of its heap the same way. A
forward pass allocates hundreds of activation tensors of megabytes each, so every one of them
page-faults its memory in again, zeroed by the kernel: about 300,000 page faults (1.2 GB) per
40 HH-RLHF pairs with Gemma 3 270M. Raising both thresholds while scoring keeps freed blocks
for reuse: 10,000-40,000 page faults, and the scorer about 1.15x faster
(`benchmarks/bench_ablation.py`, "memory returned"). Afterwards the defaults come back and `malloc_trim` hands
the kept memory back to the system, so a notebook session does not stay inflated.

Elsewhere than glibc (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
KEEP_BELOW = 1 << 30  # allocations under 1 GiB come from (and return to) the heap
NEVER_TRIM = 2**31 - 1
DEFAULT_TRIM_THRESHOLD = 128 * 1024
MMAP_THRESHOLD_AFTER = 32 * 1024 * 1024  # where glibc's own adaptive threshold ends up for tensor work


def _glibc():
    """The C library if it is glibc (it has mallopt and malloc_trim), else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@contextmanager
def freed_memory_kept() -> Iterator[bool]:
    """Within the block, freed memory stays in the process for reuse; yields whether that applies here."""
    libc = _glibc()
    if libc is None:
        yield False
        return
    libc.mallopt(M_MMAP_THRESHOLD, KEEP_BELOW)
    libc.mallopt(M_TRIM_THRESHOLD, NEVER_TRIM)
    try:
        yield True
    finally:
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_AFTER)
        libc.malloc_trim(0)
