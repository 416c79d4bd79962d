"""Fixtures: synthetic audit folders written by the real pipeline (see synthetic.py).

Each folder is built once per session (the fits take a second) and copied for every test,
since many tests edit a folder's files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.report.synthetic import build_audit_folder


@pytest.fixture(scope="session")
def _built_folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report-fixtures")
    return {
        "audit": build_audit_folder(root / "audit"),
        "pairwise": build_audit_folder(root / "pairwise", rated=False, n_prompts=40, per_prompt=2),
    }


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.fixture
def audit_dir(_built_folders, tmp_path) -> Path:
    """A rated audit folder (helpfulness and correctness): 47 decided pairs on 11 prompts, 4 fits that could not run."""
    return _copy(_built_folders["audit"], tmp_path / "audit")


@pytest.fixture
def pairwise_dir(_built_folders, tmp_path) -> Path:
    """A pairwise audit folder (chosen/rejected, no ratings): 40 pairs on 40 prompts."""
    return _copy(_built_folders["pairwise"], tmp_path / "pairwise")
