"""Where typicality keeps what it computes once: converted models and the score cache."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "TYPICALITY_CACHE"


def default_cache_root() -> Path:
    """`$TYPICALITY_CACHE` if set, else the user's cache folder for "typicality" (not created here)."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path(platformdirs.user_cache_dir("typicality"))


def cache_root() -> Path:
    """`default_cache_root()`, created if absent."""
    root = default_cache_root()
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    """Converted checkpoints (e.g. the embedded Gemma) live here, shared by every run."""
    path = cache_root() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
