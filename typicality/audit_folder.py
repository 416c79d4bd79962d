"""The audit folder: the one contract between the stages (torch-free; every stage, the pipeline,
the CLI and the notebook read and write audit folders only through this module).

An audit folder holds, each written by one stage and read by the later ones:

| file | written by | what |
|---|---|---|
| `responses.parquet`, `comparisons.parquet`, `dataset.json` | data | `PreferenceData` and its accounting and provenance |
| `scores.parquet` (+ `scores.card.json`) | scoring | one row per distinct response; the score card |
| `pairs.parquet` | stats | the pair design, its metadata in the parquet schema |
| `results.json` | stats | every estimate and every decision (headline, interpretation, ...) |
| `influence.json`, `influence.parquet` | stats (influence) | the influence summary (or why there is none); per-pair and per-prompt influence on alpha |
| `report.md`, `report.html`, `figures/` | report | what a person reads; computed from results.json |

`results.json` and `influence.json` carry `format_version`; a folder written by another version
is refused with one clear message rather than misread. `AUDIT_KIND` names every file above for
`typicality.output_folder`: `audit --force` replaces only a folder holding nothing else. Format 3 moved the influence summary out of
results.json into influence.json, so computing influence never rewrites the fit's results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from typicality.domain import REQUIRED_SCORE_COLUMNS, Accounting, PairDesign, PreferenceData, ScoreResult
from typicality.errors import TypicalityError, one_line
from typicality.output_folder import FolderKind, check_output_file, writing
from typicality.results import AuditResults, InfluenceSummary

# Bumped whenever results.json or a file's schema changes meaning; readers refuse other versions.
FORMAT_VERSION = 3

RESPONSES_FILE = "responses.parquet"
COMPARISONS_FILE = "comparisons.parquet"
DATASET_FILE = "dataset.json"
SCORES_FILE = "scores.parquet"
PAIRS_FILE = "pairs.parquet"
RESULTS_FILE = "results.json"
INFLUENCE_FILE = "influence.parquet"
INFLUENCE_SUMMARY_FILE = "influence.json"
TOKENS_FILE = "tokens.json"  # `typicality explain`: a few pairs' responses token by token (typicality.explanation)
REPORT_MARKDOWN_FILE = "report.md"
REPORT_HTML_FILE = "report.html"
FIGURES_FOLDER = "figures"
# Written into the folder itself by earlier versions of `audit()` (this one stages the audit beside --out):
# its presence means "started here and not finished" (refused by compare; replaced by the next audit).
IN_PROGRESS_FILE = "audit-in-progress.json"

# Where the score card rides in a parquet file's schema metadata (and in `<stem>.card.json` beside it).
SCORE_CARD_KEY = b"typicality.card"
PAIR_DESIGN_KEY = b"typicality.pair_design"



def _is_audit_folder(folder: Path) -> bool:
    """An audit (or simulated) folder written before the ownership marker: its own versioned dataset.json or results.json."""
    return any(_format_version(folder / name) is not None for name in (RESULTS_FILE, DATASET_FILE))


def _format_version(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format_version") if path.is_file() and path.stat().st_size < 50_000_000 else None
    except (OSError, ValueError, AttributeError):
        return None


AUDIT_KIND = FolderKind(
    name="audit",
    description="an audit",
    command="typicality audit",
    suggestion="audit-DATASET",
    files=frozenset({RESPONSES_FILE, COMPARISONS_FILE, DATASET_FILE, SCORES_FILE, "scores.card.json", PAIRS_FILE, RESULTS_FILE, INFLUENCE_FILE,
                     INFLUENCE_SUMMARY_FILE, TOKENS_FILE, REPORT_MARKDOWN_FILE, REPORT_HTML_FILE, IN_PROGRESS_FILE}),
    subfolders={FIGURES_FOLDER: (".png",)},
    recognise=_is_audit_folder,
)

# PreferenceData fields that are tables or the accounting; every other dataclass field is saved in dataset.json.
DATA_TABLE_FIELDS = ("responses", "comparisons", "accounting")


# ---------------------------------------------------------------------------------------------
# Data: responses.parquet, comparisons.parquet, dataset.json


def save_data(data: PreferenceData, folder: str | Path) -> Path:
    """Write `PreferenceData` into a folder (every dataclass field other than the tables goes to dataset.json)."""
    folder = Path(folder)
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    _write_parquet(data.responses, folder / RESPONSES_FILE, {})
    _write_parquet(data.comparisons, folder / COMPARISONS_FILE, {})
    metadata = {f.name: getattr(data, f.name) for f in dataclasses.fields(data) if f.name not in DATA_TABLE_FIELDS}
    metadata["accounting"] = data.accounting.to_dict()
    metadata["format_version"] = FORMAT_VERSION
    _write_json(folder / DATASET_FILE, metadata)
    return folder


def load_data(folder: str | Path) -> PreferenceData:
    """Read the `PreferenceData` a folder holds."""
    folder = Path(folder)
    missing = [name for name in (RESPONSES_FILE, COMPARISONS_FILE, DATASET_FILE) if not (folder / name).exists()]
    if missing:
        raise TypicalityError(f"{folder} is not a typicality data folder: it lacks {', '.join(missing)}.")
    metadata = _read_json(folder / DATASET_FILE)
    metadata.pop("format_version", None)
    counts = metadata.pop("accounting")
    accounting = Accounting(counts["rows_read"], Counter(counts["dropped"]), list(counts.get("notes", [])))
    known = {f.name for f in dataclasses.fields(PreferenceData)} - set(DATA_TABLE_FIELDS)
    return PreferenceData(
        responses=pd.read_parquet(folder / RESPONSES_FILE),
        comparisons=pd.read_parquet(folder / COMPARISONS_FILE),
        accounting=accounting,
        **{name: value for name, value in metadata.items() if name in known},
    )


# ---------------------------------------------------------------------------------------------
# Scores: scores.parquet and its card


def save_scores(scores: ScoreResult, path: str | Path) -> Path:
    """Write a scores parquet (card in its metadata too) and `<stem>.card.json` beside it, atomically."""
    path = Path(path)
    card_text = json.dumps(scores.card, indent=2, sort_keys=True, default=_json_default)
    _write_parquet(scores.table, path, {SCORE_CARD_KEY: card_text.encode()})
    _write_text(score_card_path(path), card_text + "\n")
    return path


def check_scores_output(path: str | Path) -> Path:
    """Before scoring: `path` can take a scores file (not a folder, in a writable folder, not over a file the tool did not write)."""
    return check_output_file(path, "a scores file", _is_scores_file)


def check_results_output(path: str | Path) -> Path:
    """Before fitting: `path` can take a results.json (as `check_scores_output`)."""
    return check_output_file(path, "a results.json", lambda existing: _format_version(existing) is not None)


def _is_scores_file(path: Path) -> bool:
    try:
        return SCORE_CARD_KEY in (pq.read_schema(path).metadata or {})
    except (pa.ArrowInvalid, OSError):
        return False


def score_card_path(path: str | Path) -> Path:
    """`scores.parquet` -> `scores.card.json`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.card.json")


def load_scores(path: str | Path) -> ScoreResult:
    """Read a scores parquet (`ScoreResult.save`, or any parquet with the required columns) and its card."""
    path = Path(path)
    if path.is_dir():
        path = path / SCORES_FILE
    arrow = _read_parquet(path, f"No scores file at {path}: score the data first (`typicality score ... --out {path}`) or pass --scores FILE.")
    missing = [column for column in REQUIRED_SCORE_COLUMNS if column not in arrow.column_names]
    if missing:
        raise TypicalityError(
            f"{path} is not a typicality scores file: it lacks {', '.join(missing)} "
            f"(a scores table needs {', '.join(REQUIRED_SCORE_COLUMNS)}, as `typicality score` writes)."
        )
    metadata = arrow.schema.metadata or {}
    if SCORE_CARD_KEY in metadata:
        card = json.loads(metadata[SCORE_CARD_KEY])
    elif score_card_path(path).exists():
        card = _read_json(score_card_path(path))
    else:
        card = {}
    table = arrow.replace_schema_metadata(None).to_pandas()
    return ScoreResult(table, card)


# ---------------------------------------------------------------------------------------------
# Pair design: pairs.parquet


def save_pairs(design: PairDesign, path: str | Path) -> Path:
    """Write `pairs.parquet` (at a .parquet path, or into the folder given), the design's settings in its schema metadata."""
    path = Path(path)
    if path.suffix != ".parquet":
        path = path / PAIRS_FILE
    _write_parquet(design.frame, path, {PAIR_DESIGN_KEY: json.dumps(design.settings(), default=_json_default).encode()})
    return path


def load_pairs(path: str | Path) -> PairDesign:
    """Read `pairs.parquet` (a file, or the audit folder holding it) back into a `PairDesign`."""
    path = Path(path)
    if path.is_dir():
        path = path / PAIRS_FILE
    arrow = _read_parquet(path, f"No pair design at {path}: run `typicality fit` (or `typicality audit`) to write it.")
    metadata = arrow.schema.metadata or {}
    if PAIR_DESIGN_KEY not in metadata:
        raise TypicalityError(f"{path} is not a pair design written by this version of typicality: re-run `typicality fit` on its folder.")
    settings = json.loads(metadata[PAIR_DESIGN_KEY])
    return PairDesign(frame=arrow.replace_schema_metadata(None).to_pandas(), **settings)


# ---------------------------------------------------------------------------------------------
# Results: results.json


def save_results(results: AuditResults, folder: str | Path) -> Path:
    """Write results.json (strict JSON: a NaN is a bug upstream, not something to write)."""
    path = Path(folder)
    if path.suffix != ".json":
        path = path / RESULTS_FILE
    content = {**results.to_dict(), "format_version": FORMAT_VERSION}
    _write_json(path, content, allow_nan=False)
    return path


def save_analysis(results: AuditResults, design: PairDesign, folder: str | Path) -> Path:
    """Write a fit into an audit folder: its pair design (pairs.parquet) and its results (results.json), together.

    Influence (influence.json, influence.parquet) left from an earlier fit described other results: it is
    removed (`typicality influence`, or the pipeline after the fit, recomputes it for these).
    """
    folder = Path(folder)
    save_pairs(design, folder / PAIRS_FILE)
    remove_influence(folder)
    return save_results(results, folder)


def load_results(folder: str | Path) -> AuditResults:
    """Read results.json into the typed results, checking its format version; one clear message for anything else."""
    folder = Path(folder)
    path = folder if folder.suffix == ".json" else folder / RESULTS_FILE
    if not path.parent.is_dir():
        raise TypicalityError(f"{path.parent} is not a folder: give the folder that `typicality audit DATASET --out DIR` wrote.")
    if not path.exists():
        raise TypicalityError(
            f"{path.parent} has no {RESULTS_FILE}, so it is not a finished audit: run `typicality audit DATASET --out {path.parent}` "
            "(an interrupted audit resumes) or `typicality fit` on it first."
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TypicalityError(f"{path} is not valid JSON ({one_line(error)}): re-run `typicality fit` on its folder to rewrite it.") from None
    if not isinstance(results, dict):
        raise TypicalityError(f"{path} holds a {type(results).__name__}, not a JSON object: re-run `typicality fit` on its folder.")
    _check_version(path, results.get("format_version"))
    try:
        return AuditResults.from_dict(results)
    except (TypicalityError, TypeError) as error:
        raise TypicalityError(f"{path} does not hold the results this version writes ({one_line(error)}): re-run `typicality fit {path.parent}`.") from None


def _check_version(path: Path, version) -> None:
    if version != FORMAT_VERSION:
        raise TypicalityError(
            f"{path} was written by another version of typicality (format {version}, this version reads {FORMAT_VERSION}): "
            f"re-run `typicality fit {path.parent}` (scores are cached, so nothing is re-scored) or use the version that wrote it."
        )


# ---------------------------------------------------------------------------------------------
# Influence: influence.json (typicality.stats.influence.InfluenceResult.summary) and
# influence.parquet (rows and columns: typicality.stats.influence.influence_table)


def save_influence(summary: InfluenceSummary, frame: pd.DataFrame | None, folder: str | Path) -> Path:
    """Write influence.json and, when influence was computed, influence.parquet (a stale table is removed), atomically."""
    folder = Path(folder)
    if frame is not None:
        _write_parquet(frame, folder / INFLUENCE_FILE, {})
    else:
        with writing(folder / INFLUENCE_FILE):
            (folder / INFLUENCE_FILE).unlink(missing_ok=True)
    path = folder / INFLUENCE_SUMMARY_FILE
    _write_json(path, {**summary.to_dict(), "format_version": FORMAT_VERSION}, allow_nan=False)
    return path


def remove_influence(folder: str | Path) -> None:
    """Influence computed for earlier results describes other fits: new results remove it (and the token view, which quotes it)."""
    for name in (INFLUENCE_FILE, INFLUENCE_SUMMARY_FILE, TOKENS_FILE):
        with writing(Path(folder) / name):
            (Path(folder) / name).unlink(missing_ok=True)


def save_token_view(content: dict, folder: str | Path) -> Path:
    """Write tokens.json (typicality.explain's pairs, token by token), atomically."""
    path = Path(folder) / TOKENS_FILE
    with writing(path):
        _write_json(path, {**content, "format_version": FORMAT_VERSION}, allow_nan=False)
    return path


def load_token_view(folder: str | Path) -> dict | None:
    """Read tokens.json, version-checked; None when `typicality explain` has not run on the folder."""
    path = Path(folder) / TOKENS_FILE
    if not path.exists():
        return None
    content = _read_json(path)
    _check_version(path, content.pop("format_version", None))
    return content


def load_influence_summary(path: str | Path) -> InfluenceSummary:
    """Read influence.json, version-checked."""
    path = Path(path)
    summary = _read_json(path)
    _check_version(path, summary.pop("format_version", None))
    return InfluenceSummary.from_dict(summary)


# ---------------------------------------------------------------------------------------------
# A whole audit folder


@dataclass
class AuditFolder:
    """A finished audit, read through the contract: results.json always, the rest when readable.

    Build one in memory (a notebook) or with `read_audit`. `missing` names each optional file
    that is absent or unreadable and why, so a partial audit still gets a report.
    """

    results: AuditResults
    pairs: PairDesign | None = None
    scores: ScoreResult | None = None
    data: PreferenceData | None = None
    influence: pd.DataFrame | None = None  # influence.parquet
    influence_summary: InfluenceSummary | None = None  # influence.json: the summary, or available=False with the reason
    folder: Path | None = None
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def score_card(self) -> dict | None:
        """The scorer's card: results.json carries it as `model` (the one way it travels)."""
        return self.results.model


def read_audit(folder: str | Path, *, with_data: bool = True) -> AuditFolder:
    """Read a finished audit folder: results.json (required, version-checked) and the optional files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TypicalityError(f"{folder} is not a folder: give the folder that `typicality audit DATASET --out DIR` wrote.")
    audit = AuditFolder(results=load_results(folder), folder=folder)
    audit.pairs = _optional(audit, folder / PAIRS_FILE, load_pairs)
    audit.scores = _optional(audit, folder / SCORES_FILE, load_scores)
    # Influence is an optional extra (`typicality influence`): its absence is not worth a warning.
    if (folder / INFLUENCE_FILE).exists():
        audit.influence = _optional(audit, folder / INFLUENCE_FILE, pd.read_parquet)
    if (folder / INFLUENCE_SUMMARY_FILE).exists():
        audit.influence_summary = _optional(audit, folder / INFLUENCE_SUMMARY_FILE, load_influence_summary)
    if with_data:
        audit.data = _optional(audit, folder / DATASET_FILE, lambda path: load_data(path.parent))
    return audit


def is_finished_audit(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / RESULTS_FILE).exists() and not (folder / IN_PROGRESS_FILE).exists()


def _optional(audit: AuditFolder, path: Path, reader):
    if not path.exists():
        audit.missing[path.name] = "absent"
        return None
    try:
        return reader(path)
    except Exception as error:  # noqa: BLE001 - an unreadable optional file is reported, not fatal
        audit.missing[path.name] = f"unreadable ({one_line(error)})"
        return None


# ---------------------------------------------------------------------------------------------
# Writing helpers


def _read_parquet(path: Path, absent: str) -> pa.Table:
    """A parquet file as an arrow table (metadata kept); `absent` is the message when there is none."""
    if not path.exists():
        raise TypicalityError(absent)
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise TypicalityError(f"{path} is not a readable parquet file ({one_line(error)}).") from None


def _write_parquet(frame: pd.DataFrame, path: Path, metadata: dict[bytes, bytes]) -> None:
    """Atomically: a run killed while saving leaves the previous file intact."""
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **metadata})
    _write_atomically(path, lambda staging: pq.write_table(arrow, staging))


def _write_json(path: Path, content: dict, *, allow_nan: bool = True) -> None:
    _write_text(path, json.dumps(content, indent=2, allow_nan=allow_nan, default=_json_default) + "\n")


def _write_text(path: Path, text: str) -> None:
    _write_atomically(path, lambda staging: staging.write_text(text, encoding="utf-8"))


def _write_atomically(path: Path, write) -> None:
    """Write a hidden file beside `path`, then rename it over `path`; a file-system error is one message, and leaves no hidden file."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with writing(path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(staging)
            os.replace(staging, path)
        except BaseException:
            with contextlib.suppress(OSError):
                staging.unlink(missing_ok=True)
            raise


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TypicalityError(f"{path} is not valid JSON ({one_line(error)}).") from None


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
