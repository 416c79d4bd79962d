"""The folders the stats stage reads and writes: a data folder plus scores (an audit or a simulation), through the contract."""

from __future__ import annotations

from pathlib import Path

from typicality.audit_folder import SCORES_FILE, load_data, load_scores, save_data, save_scores
from typicality.domain import PreferenceData, ScoreResult
from typicality.errors import TypicalityError


def read_analysis_input(folder: str | Path | None = None, *, data: str | Path | None = None, scores: str | Path | None = None) -> tuple[PreferenceData, ScoreResult]:
    """(data, scores with their card) from one folder holding both, or from a data folder and a scores file given apart."""
    if folder is None and (data is None or scores is None):
        raise TypicalityError("Give a folder holding the data files and scores.parquet, or both --data DIR and --scores FILE.")
    data_folder = Path(data) if data is not None else Path(folder)
    scores_file = Path(scores) if scores is not None else Path(folder) / SCORES_FILE
    if not data_folder.is_dir():
        raise TypicalityError(f"{data_folder} is not a folder; give an audit or simulated folder, or --data DIR.")
    return load_data(data_folder), load_scores(scores_file)


def write_simulation(data: PreferenceData, scores: ScoreResult, folder: str | Path) -> Path:
    """A simulated folder: the data folder files plus scores.parquet, readable by every stats command."""
    folder = Path(folder)
    save_data(data, folder)
    save_scores(scores, folder / SCORES_FILE)
    return folder
