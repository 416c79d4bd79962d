"""The code's own rules, run with the tests: ruff's lint rules and the import layers (pyproject.toml)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(module: str, *arguments: str) -> subprocess.CompletedProcess:
    """`python arguments...` at the repository root, with this checkout first on the path; `module` must be installed."""
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed: `pip install -e '.[test]'` installs it (it is in the test extra).")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_ruff_finds_nothing():
    done = run("ruff", "-m", "ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, f"`ruff check .` found problems (`ruff check --fix .` sorts imports):\n{done.stdout}{done.stderr}"


def test_each_layer_imports_only_the_layers_below_it():
    done = run("importlinter", "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()", "--no-cache", "--no-logo")
    assert done.returncode == 0, f"`lint-imports` found a broken contract ([tool.importlinter] in pyproject.toml):\n{done.stdout}{done.stderr}"
    assert "Contracts: 3 kept, 0 broken." in done.stdout  # every contract ran
