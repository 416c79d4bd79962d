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


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_BYTES


def faults_of_allocations(times: int = 20) -> int:
    """Minor page faults of allocating, filling and freeing a 64 MiB tensor `times` times."""
    before = minor_faults()
    for _ in range(times):
        tensor = torch.empty(TENSOR_BYTES // 4, dtype=torch.float32)
        tensor.fill_(1.0)  # touch every page
        del tensor
    return minor_faults() - before


@glibc_only
def test_the_block_runs_and_says_it_applies():
    ran = []
    with freed_memory_kept() as kept:
        ran.append(True)
        assert float(torch.ones(1000).sum()) == 1000.0
    assert kept is True and ran == [True]
    assert float(torch.arange(10**6, dtype=torch.float64).sum()) == (10**6 - 1) * 10**6 / 2  # allocates normally after


@glibc_only
def test_freed_allocations_are_reused_inside_the_block_not_faulted_in_again():
    outside = faults_of_allocations()
    with freed_memory_kept():
        # Warm up first: torch allocates 64-byte aligned (posix_memalign), and for the first few rounds a
        # small allocation can land in the aligned block's trimmed edge, so the next block comes fresh from
        # the heap top (up to 7 of 20 rounds faulted in pytest runs). Scoring lives in the steady state after.
        faults_of_allocations(times=10)
        inside = faults_of_allocations()
    assert outside >= 20 * TENSOR_BYTES // PAGE_BYTES // 2  # the default: every allocation faults its pages in anew
    assert inside < outside / 4


@glibc_only
def test_kept_memory_goes_back_to_the_system_after_the_block():
    baseline = resident_bytes()
    with freed_memory_kept():
        tensor = torch.empty(TENSOR_BYTES // 4, dtype=torch.float32).fill_(1.0)
        del tensor
        kept = resident_bytes() - baseline
    after = resident_bytes() - baseline
    assert kept > TENSOR_BYTES // 2  # freed, yet still held by the process for reuse
    assert after < TENSOR_BYTES // 4  # malloc_trim handed it back
    outside = faults_of_allocations(times=3)  # and the default behaviour is back: mmapped, faulted anew each time
    assert outside >= 3 * TENSOR_BYTES // PAGE_BYTES // 2


def test_without_glibc_it_does_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    ran = []
    with freed_memory_kept() as kept:
        ran.append(True)
    assert kept is False and ran == [True]
