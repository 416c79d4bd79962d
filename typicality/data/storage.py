"""`PreferenceData` on disk, so later stages (fit, report) re-run from a folder without the source.

A folder holds `responses.parquet`, `comparisons.parquet` and `dataset.json` (the metadata and
the accounting). Audit folders and simulated folders share this layout.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from typicality.data.preference_data import Accounting, PreferenceData
from typicality.errors import TypicalityError

METADATA_FIELDS = ("name", "kind", "rating_columns", "correctness", "preference", "subset", "split", "source")


def save_preference_data(data: PreferenceData, folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data.responses.to_parquet(folder / "responses.parquet", index=False)
    data.comparisons.to_parquet(folder / "comparisons.parquet", index=False)
    metadata = {field: getattr(data, field) for field in METADATA_FIELDS}
    metadata["accounting"] = data.accounting.to_dict()
    (folder / "dataset.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def load_preference_data(folder: str | Path) -> PreferenceData:
    folder = Path(folder)
    needed = [folder / name for name in ("responses.parquet", "comparisons.parquet", "dataset.json")]
    missing = [path.name for path in needed if not path.exists()]
    if missing:
        raise TypicalityError(f"{folder} is not a typicality data folder: it lacks {', '.join(missing)}.")
    metadata = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    counts = metadata.pop("accounting")
    accounting = Accounting(counts["rows_read"], Counter(counts["dropped"]), list(counts.get("notes", [])))
    return PreferenceData(
        responses=pd.read_parquet(folder / "responses.parquet"),
        comparisons=pd.read_parquet(folder / "comparisons.parquet"),
        accounting=accounting,
        **{field: metadata.get(field) for field in METADATA_FIELDS},
    )
