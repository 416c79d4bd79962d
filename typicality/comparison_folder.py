"""The comparison folder that `typicality compare` writes: its file names, and comparison.json in and out.

| file | what |
|---|---|
| `comparison.json` | every number of the comparison (`typicality.stats.compare`), typed as `typicality.comparison_results.ComparisonResults` |
| `typicality.parquet` | model comparisons: each response's typicality under each model (scores only, no text), for the scatter |
| `comparison.md`, `comparison.html`, `figures/` | the report (`typicality.report.comparison`) |

`COMPARISON_KIND` names these files for `typicality.output_folder`: `compare --force` replaces only a folder holding nothing else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from typicality.comparison_results import ComparisonResults
from typicality.errors import TypicalityError, one_line
from typicality.output_folder import FolderKind, writing

COMPARISON_FORMAT_VERSION = 1
COMPARISON_FILE = "comparison.json"
TYPICALITY_FILE = "typicality.parquet"
COMPARISON_MARKDOWN_FILE = "comparison.md"
COMPARISON_HTML_FILE = "comparison.html"
COMPARISON_FIGURES_FOLDER = "figures"


def _is_comparison_folder(folder: Path) -> bool:
    """A comparison folder written before the ownership marker: its own versioned comparison.json."""
    path = folder / COMPARISON_FILE
    try:
        return path.is_file() and "format_version" in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


COMPARISON_KIND = FolderKind(
    name="comparison",
    description="a comparison",
    command="typicality compare",
    suggestion="comparison",
    files=frozenset({COMPARISON_FILE, TYPICALITY_FILE, COMPARISON_MARKDOWN_FILE, COMPARISON_HTML_FILE}),
    subfolders={COMPARISON_FIGURES_FOLDER: (".png",)},
    recognise=_is_comparison_folder,
)


def comparison_text(comparison: ComparisonResults) -> str:
    """comparison.json's text: strict JSON (a NaN is a bug upstream), the typed results' keys in order, then the format version."""
    return json.dumps({**comparison.to_dict(), "format_version": COMPARISON_FORMAT_VERSION}, indent=2, allow_nan=False) + "\n"


def save_comparison(comparison: ComparisonResults, folder: str | Path) -> Path:
    """Write comparison.json and, for a model comparison, typicality.parquet (`comparison.typicality`), atomically."""
    folder = Path(folder)
    path = folder / COMPARISON_FILE
    text = comparison_text(comparison)
    with writing(path):
        folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
        if comparison.typicality is not None:
            comparison.typicality.to_parquet(folder / TYPICALITY_FILE, index=False)
    return path


def load_comparison(folder: str | Path) -> ComparisonResults:
    """Read comparison.json back into the typed results, version-checked, with typicality.parquet when the folder has it."""
    path = Path(folder) / COMPARISON_FILE
    if not path.exists():
        raise TypicalityError(f"{Path(folder)} has no {COMPARISON_FILE}: run `typicality compare AUDIT_DIR AUDIT_DIR ... --out {Path(folder)}` first.")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TypicalityError(f"{path} is not valid JSON ({one_line(error)}): re-run `typicality compare`.") from None
    if not isinstance(content, dict):
        raise TypicalityError(f"{path} holds a {type(content).__name__}, not a JSON object: re-run `typicality compare`.")
    if content.get("format_version") != COMPARISON_FORMAT_VERSION:
        raise TypicalityError(f"{path} was written by another version of typicality (format {content.get('format_version')}): re-run `typicality compare`.")
    content = {key: value for key, value in content.items() if key != "format_version"}
    try:
        comparison = ComparisonResults.from_dict(content)
    except (TypicalityError, TypeError) as error:
        raise TypicalityError(f"{path} does not hold the comparison this version writes ({one_line(error)}): re-run `typicality compare`.") from None
    return comparison.replace(typicality=load_typicality(folder))


def load_typicality(folder: str | Path) -> pd.DataFrame | None:
    path = Path(folder) / TYPICALITY_FILE
    return pd.read_parquet(path) if path.exists() else None
