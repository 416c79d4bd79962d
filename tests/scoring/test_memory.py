"""Freed memory kept in the process while scoring (memory.py): measured by page faults and resident memory."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
import torch

from typicality.scoring import memory
from typicality.scoring.memory import freed_memory_kept

glibc_only = pytest.mark.skipif(memory._glibc() is None, reason="needs glibc malloc (mallopt, malloc_trim), as on Linux")

TENSOR_BYTES = 64 * 1024 * 1024  # over glibc's largest automatic mmap threshold (32 MiB): mmapped by default
PAGE_BYTES = resource.getpagesize()


@glibc_only
def test_the_block_runs_and_says_it_applies():
    ran = []
    with freed_memory_kept() as kept:
        ran.append(True)
        assert float(torch.ones(1000).sum()) == 1000.0
    assert kept is True and ran == [True]
    assert float(torch.arange(10**6, dtype=torch.float64).sum()) == (10**6 - 1) * 10**6 / 2  # allocates normally after


# Each measurement runs in a fresh process: once any scoring session has run in this one (earlier
# tests do), glibc serves a 64 MiB block from the heap chunks it kept, not from a fresh mmap, and the
# default behaviour being compared with is gone.
MEASURE = """
import json, resource, sys
from pathlib import Path
import torch
from typicality.scoring.memory import freed_memory_kept
TENSOR_BYTES, PAGE = 64 * 1024 * 1024, resource.getpagesize()
def faults(times=20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        tensor = torch.empty(TENSOR_BYTES // 4).fill_(1.0)  # touch every page
        del tensor
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
def resident():
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE
outside = faults()
baseline = resident()
with freed_memory_kept():
    # Warm up first: torch allocates 64-byte aligned (posix_memalign), and for the first few rounds a
    # small allocation can land in the aligned block's trimmed edge, so the next block comes fresh from
    # the heap top (up to 7 of 20 rounds faulted). Scoring lives in the steady state after.
    faults(times=10)
    inside = faults()
    kept = resident() - baseline
after = resident() - baseline
print(json.dumps({"outside": outside, "inside": inside, "kept": kept, "after": after}))
"""


def measured() -> dict:
    import json
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2])
    return json.loads(run.stdout.strip().splitlines()[-1])


@glibc_only
def test_freed_allocations_are_reused_inside_the_block_not_faulted_in_again():
    counts = measured()
    assert counts["outside"] >= 20 * TENSOR_BYTES // PAGE_BYTES // 2  # the default: every allocation faults its pages in anew
    assert counts["inside"] < counts["outside"] / 4


@glibc_only
def test_kept_memory_goes_back_to_the_system_after_the_block():
    counts = measured()
    assert counts["kept"] > TENSOR_BYTES // 2  # freed, yet still held by the process for reuse
    assert counts["after"] < TENSOR_BYTES // 4  # malloc_trim handed it back


def test_without_glibc_it_does_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    ran = []
    with freed_memory_kept() as kept:
        ran.append(True)
    assert kept is False and ran == [True]
