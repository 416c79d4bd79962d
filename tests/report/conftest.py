"""Fixtures: synthetic audit folders (see synthetic.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.synthetic import build_audit_folder


@pytest.fixture
def audit_dir(tmp_path) -> Path:
    """A rated audit folder (helpfulness and correctness), about 50 decided pairs."""
    return build_audit_folder(tmp_path / "audit")


@pytest.fixture
def pairwise_dir(tmp_path) -> Path:
    """A pairwise audit folder (chosen/rejected, no ratings)."""
    return build_audit_folder(tmp_path / "pairwise", rated=False, n_prompts=40, per_prompt=2)
