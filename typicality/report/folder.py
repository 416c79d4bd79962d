"""Reading a finished audit folder: the contract between the audit and the report.

Only `results.json` is required. Every other file may be absent or unreadable; the report then
says what is not available and why instead of failing, so a partial audit still gets a report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from typicality.data.preference_data import PreferenceData
from typicality.errors import TypicalityError

# Column pairs a pair table may use for its two response ids, first = the `label == 1` side.
PAIR_ID_COLUMNS = (("response_a", "response_b"), ("response_i", "response_j"), ("response_id_a", "response_id_b"))
LENGTH_CONTROL_WORDS = ("length", "tokens")


@dataclass
class AuditFolder:
    """What a report is drawn from; build one in memory (a notebook) or with `read_audit_folder`."""

    results: dict
    pairs: pd.DataFrame | None = None
    scores: pd.DataFrame | None = None
    data: PreferenceData | None = None
    scoring: dict | None = None
    folder: Path | None = None
    missing: dict[str, str] = field(default_factory=dict)  # file name -> why it is not available


def read_audit_folder(folder: str | Path) -> AuditFolder:
    """Read `results.json` (required) and whatever else of the audit contract the folder holds."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TypicalityError(f"{folder} is not a folder: give the folder that `typicality audit DATASET --out DIR` wrote.")
    results_path = folder / "results.json"
    if not results_path.exists():
        raise TypicalityError(
            f"{folder} has no results.json, so it is not a finished audit: run `typicality audit DATASET --out {folder}` "
            "(an interrupted audit resumes) before rendering its report."
        )
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TypicalityError(f"{results_path} is not valid JSON ({error}): re-run the fit stage to rewrite it.") from None
    if not isinstance(results, dict):
        raise TypicalityError(f"{results_path} holds a {type(results).__name__}, not a JSON object: re-run the fit stage to rewrite it.")

    audit = AuditFolder(results=results, folder=folder)
    audit.pairs = _read_optional(audit, folder / "pairs.parquet", pd.read_parquet)
    audit.scores = _read_optional(audit, folder / "scores.parquet", pd.read_parquet)
    audit.scoring = _read_model_card(audit, folder)
    if (folder / "dataset.json").exists():
        from typicality.data.storage import load_preference_data

        try:
            audit.data = load_preference_data(folder)
        except Exception as error:  # noqa: BLE001 - a damaged data folder must not stop the report
            audit.missing["dataset.json"] = f"the saved dataset could not be read ({_one_line(error)})"
    else:
        audit.missing["dataset.json"] = "absent"
    return audit


def _read_model_card(audit: AuditFolder, folder: Path) -> dict | None:
    """scoring.json; else the scorer's own `scores.card.json`; else the card results.json carries as `model`."""
    for name in ("scoring.json", "scores.card.json"):
        if (folder / name).exists():
            card = _read_optional(audit, folder / name, lambda path: json.loads(path.read_text(encoding="utf-8")))
            if isinstance(card, dict):
                return card
            audit.missing.setdefault(name, "it does not hold a JSON object")
    if isinstance(audit.results.get("model"), dict):
        return None  # the report shows results.json's card; nothing is missing
    audit.missing.setdefault("scoring.json", "absent")
    return None


def _read_optional(audit: AuditFolder, path: Path, reader):
    if not path.exists():
        audit.missing[path.name] = "absent"
        return None
    try:
        return reader(path)
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported, not fatal
        audit.missing[path.name] = f"unreadable ({_one_line(error)})"
        return None


def correctness_of(audit: AuditFolder) -> str | None:
    """The rating that stands for true quality (for the equal-correctness slice), if the data has one."""
    if audit.data is not None and audit.data.correctness:
        return audit.data.correctness
    dataset = audit.results.get("dataset")
    return dataset.get("correctness") if isinstance(dataset, dict) else None


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def number(value) -> float | None:
    """A finite float, or None for anything missing, null, NaN, infinite or not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def controls_of(estimate: dict) -> list[str]:
    """An estimate's controls as a list, whether stored as a list, a string or null."""
    controls = estimate.get("controls")
    if controls is None:
        return []
    if isinstance(controls, str):
        return [] if controls.strip().lower() in ("", "none") else [controls]
    return [str(control) for control in controls]


def is_length_control(control: str) -> bool:
    return any(word in control.lower() for word in LENGTH_CONTROL_WORDS)


def estimates_of(results: dict) -> list[dict]:
    estimates = results.get("estimates")
    return [estimate for estimate in estimates if isinstance(estimate, dict)] if isinstance(estimates, list) else []


def is_fitted(estimate: dict) -> bool:
    return estimate.get("fitted") is not False and number(estimate.get("alpha")) is not None


def is_plain_mean(estimate: dict) -> bool:
    """Mean typicality without controls: the fit the preference-rate curve can be drawn from."""
    return not controls_of(estimate) and "mean" in str(estimate.get("typicality") or "mean_logprob").lower()


def _by_id(results: dict, estimate_id) -> dict | None:
    return next((e for e in estimates_of(results) if estimate_id is not None and e.get("id") == estimate_id), None)


def _declared(results: dict, key: str) -> dict | None:
    declared = results.get("headline")
    return _by_id(results, declared.get(key)) if isinstance(declared, dict) else None


def headline_estimate(results: dict) -> dict | None:
    """The fit results.json names as its headline; else mean typicality, no controls, all pairs; else the first."""
    declared = _declared(results, "estimate")
    if declared is not None:
        return declared
    estimates = estimates_of(results)
    plain = [e for e in estimates if is_plain_mean(e)]
    for estimate in plain:
        if str(estimate.get("slice") or "all").lower() in ("all", "all pairs", "all_pairs"):
            return estimate
    if plain:
        return plain[0]
    return estimates[0] if estimates else None


def curve_estimate(results: dict) -> dict | None:
    """The fitted no-controls mean fit for the preference-rate curve: the headline's slice first, then all pairs."""
    headline = headline_estimate(results)
    candidates = [e for e in estimates_of(results) if is_plain_mean(e) and is_fitted(e)]
    if headline is not None and headline in candidates:
        return headline
    for wanted in (headline.get("slice") if headline else None, "all"):
        for estimate in candidates:
            if estimate.get("slice") == wanted:
                return estimate
    return candidates[0] if candidates else None


def length_controlled_estimate(results: dict, headline: dict | None) -> dict | None:
    """The headline fit again with a length control added: as results.json names it, else found by its fields."""
    if headline is None:
        return None
    if headline is _declared(results, "estimate"):
        declared = _declared(results, "length_controlled")
        if declared is not None:
            return declared
    base = set(controls_of(headline))
    candidates = [
        e
        for e in estimates_of(results)
        if e.get("slice") == headline.get("slice")
        and e.get("typicality") == headline.get("typicality")
        and base < set(controls_of(e))
        and any(is_length_control(c) for c in set(controls_of(e)) - base)
    ]
    return min(candidates, key=lambda e: len(controls_of(e)), default=None)


def delta_column(pairs: pd.DataFrame, typicality: str | None) -> str | None:
    """The pair-table column holding Δ typicality (first response minus second) for a definition."""
    name = str(typicality or "mean_logprob")
    for column in (f"delta_{name}", f"delta_{name}_logprob", "delta_mean_logprob"):
        if column in pairs.columns:
            return column
    return None


def pair_id_columns(pairs: pd.DataFrame) -> tuple[str, str] | None:
    for first, second in PAIR_ID_COLUMNS:
        if first in pairs.columns and second in pairs.columns:
            return first, second
    return None


def decisive_pairs(pairs: pd.DataFrame, column: str) -> pd.DataFrame:
    """Pairs with a winner (ties left out), with `delta_preferred` = preferred minus rejected.

    The pair table stores Δ as first minus second and `label` = 1 when the first is preferred,
    so the preferred-minus-rejected Δ is Δ when label is 1 and -Δ when label is 0.
    """
    labels = pd.to_numeric(pairs["label"], errors="coerce")
    decisive = pairs[labels.isin([0.0, 1.0]) & pairs[column].notna()].copy()
    first_preferred = decisive["label"].astype(float) == 1.0
    decisive["delta_preferred"] = decisive[column].where(first_preferred, -decisive[column]).astype(float)
    ids = pair_id_columns(decisive)
    if ids is not None:
        decisive["preferred_id"] = decisive[ids[0]].where(first_preferred, decisive[ids[1]])
        decisive["rejected_id"] = decisive[ids[1]].where(first_preferred, decisive[ids[0]])
    return decisive


def slice_pairs(pairs: pd.DataFrame, name: str | None, correctness: str | None) -> pd.DataFrame | None:
    """The pairs of a named slice (all, equal-correctness, COLUMN=VALUE), or None when it cannot be told."""
    key = str(name or "all")
    if key.lower() in ("all", "all pairs", "all_pairs"):
        return pairs
    if key.lower().replace("_", "-") == "equal-correctness":
        column = f"delta_{correctness}" if correctness else None
        return pairs[pairs[column] == 0] if column in pairs.columns else None
    if "=" in key:
        column, value = key.split("=", 1)
        return pairs[pairs[column].astype(str) == value] if column in pairs.columns else None
    return None
