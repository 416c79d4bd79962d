"""The comparison folder that `typicality compare` writes: its file names, and comparison.json in and out.

| file | what |
|---|---|
| `comparison.json` | every number of the comparison (`typicality.stats.compare`) |
| `typicality.parquet` | model comparisons: each response's typicality under each model (scores only, no text), for the scatter |
| `comparison.md`, `comparison.html`, `figures/` | the report (`typicality.report.comparison`) |
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from typicality.errors import TypicalityError, one_line

COMPARISON_FORMAT_VERSION = 1
COMPARISON_FILE = "comparison.json"
TYPICALITY_FILE = "typicality.parquet"
COMPARISON_MARKDOWN_FILE = "comparison.md"
COMPARISON_HTML_FILE = "comparison.html"
COMPARISON_FIGURES_FOLDER = "figures"


def save_comparison(content: dict, folder: str | Path, typicality: pd.DataFrame | None = None) -> Path:
    """Write comparison.json (strict JSON) and, for a model comparison, typicality.parquet, atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / COMPARISON_FILE
    text = json.dumps({**content, "format_version": COMPARISON_FORMAT_VERSION}, indent=2, allow_nan=False)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(text + "\n", encoding="utf-8")
    os.replace(temporary, path)
    if typicality is not None:
        typicality.to_parquet(folder / TYPICALITY_FILE, index=False)
    return path


def load_comparison(folder: str | Path) -> dict:
    """Read comparison.json back, version-checked."""
    path = Path(folder) / COMPARISON_FILE
    if not path.exists():
        raise TypicalityError(f"{Path(folder)} has no {COMPARISON_FILE}: run `typicality compare AUDIT_DIR AUDIT_DIR ... --out {Path(folder)}` first.")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TypicalityError(f"{path} is not valid JSON ({one_line(error)}): re-run `typicality compare`.") from None
    if content.get("format_version") != COMPARISON_FORMAT_VERSION:
        raise TypicalityError(f"{path} was written by another version of typicality (format {content.get('format_version')}): re-run `typicality compare`.")
    return content


def load_typicality(folder: str | Path) -> pd.DataFrame | None:
    path = Path(folder) / TYPICALITY_FILE
    return pd.read_parquet(path) if path.exists() else None
