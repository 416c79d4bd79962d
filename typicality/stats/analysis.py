"""The whole stats stage in one call: pair design, the robustness set of fits, agreement, ordinal model -> results.json.

Default estimates (`controls=None`), headline first:
- with a correctness rating C: equal-correctness slice (none; length), the adjusted fit on all
  pairs (C; C + length), all pairs without C (none; length), each for mean and sum typicality;
  per subset/domain slice: mean typicality with (C; C + length);
- without one: all pairs (none; length) for mean and sum; per slice: mean with (none; length).
With `controls=[...]` every selected slice is fitted with exactly those controls, for both
typicality definitions (a correctness control is left out of the equal-correctness slice).
"""

from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from typicality.data.preference_data import PreferenceData
from typicality.errors import TypicalityError
from typicality.stats.agreement import Agreement, agreement_rate
from typicality.stats.ordinal import OrdinalFit, ordinal_logit, preference_rating
from typicality.stats.pair_design import (
    ALL_PAIRS,
    EQUAL_CORRECTNESS,
    LENGTH_CONTROL,
    TYPICALITY_COLUMNS,
    build_pairs,
    control_name,
    expand_slices,
    pair_accounting,
)
from typicality.stats.scores_table import check_scores
from typicality.stats.typicality_bias import Estimate, TypicalityBias, estimates_frame

TYPICALITIES = ("mean_logprob", "sum_logprob")


class AnalysisResults(dict):
    """The results.json content as a plain, JSON-ready dict, plus the pair design it came from and a few helpers.

    `json.dumps(results)` works as for any dict; `results.design` is the pair design (for
    pairs.parquet); `summary()`, `to_frame()` and `estimate(id)` read the same dict.
    """

    def __init__(self, content: dict, design: pd.DataFrame | None = None) -> None:
        super().__init__(content)
        self.design = design

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self, allow_nan=False))

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        return path

    def estimate(self, estimate_id: str) -> dict:
        for estimate in self["estimates"]:
            if estimate["id"] == estimate_id:
                return estimate
        raise KeyError(estimate_id)

    def to_frame(self) -> pd.DataFrame:
        return estimates_frame([_estimate_from_dict(estimate) for estimate in self["estimates"]])

    def summary(self) -> str:
        pairs, model = self["pairs"], self.get("model") or {}
        lines = [
            f"Dataset {self['dataset']['name']}: {pairs['pairs']} pairs of {pairs['comparisons']} comparisons; "
            f"model {model.get('model') or model.get('fingerprint') or 'unknown'}"
        ]
        lines.append(Agreement(**self["agreement"]).summary())
        lines.extend(_estimate_from_dict(estimate).summary() for estimate in self["estimates"])
        if self.get("ordinal"):
            lines.append(OrdinalFit(**self["ordinal"]).summary())
        lines.extend(f"warning: {message}" for message in self["warnings"])
        return "\n".join(lines)


def _estimate_from_dict(record: dict) -> Estimate:
    return Estimate(**{key: value for key, value in record.items() if key != "id"})


def analyze(
    data: PreferenceData,
    scores: pd.DataFrame,
    *,
    controls: list[str] | None = None,
    slices: list[str] | None = None,
    typicalities: tuple[str, ...] = TYPICALITIES,
    seed: int = 0,
    bootstrap: int = 0,
    ties: str = "drop",
    design: pd.DataFrame | None = None,
    model_card: dict | None = None,
) -> AnalysisResults:
    """Build the pair design (or take `design` from build_pairs) and run every estimator -> results.json content.

    Fits that cannot run are listed with their reason and null numbers; nothing is NaN.
    `model_card` (the scorer's card; default `scores.attrs["card"]` as read_analysis_input
    leaves it) becomes the `model` entry; without one, the scores' fingerprint does.
    """
    model_card = model_card or scores.attrs.get("card")
    scores = check_scores(scores)
    if design is None:
        design = build_pairs(data, scores, seed=seed, ties=ties)
    accounting = pair_accounting(design)
    if len(design) == 0:
        dropped = ", ".join(f"{count} {reason}" for reason, count in accounting["dropped"].items()) or "none"
        raise TypicalityError(
            f"Dataset '{data.name}' has no usable pairs: {accounting['comparisons']} comparisons, dropped: {dropped}. "
            "Check that the scores belong to this data (same prompts and responses)."
        )
    unknown = [name for name in typicalities if name not in TYPICALITY_COLUMNS]
    if unknown:
        raise TypicalityError(f"Unknown typicality {', '.join(unknown)}; use {', '.join(TYPICALITY_COLUMNS)}.")

    warnings = data_warnings(accounting)
    specs = estimate_specs(design, controls, slices, typicalities)
    estimates = [
        TypicalityBias(typicality, spec_controls, bootstrap=bootstrap, seed=seed, slice=slice_name).fit(design).estimate_
        for slice_name, typicality, spec_controls in specs
    ]
    failed = [estimate for estimate in estimates if not estimate.fitted]
    if failed:
        warnings.append(f"{len(failed)} of {len(estimates)} fits could not run (each is listed with its reason); the other {len(estimates) - len(failed)} were fitted.")
        warnings.extend(f"Not fitted: {estimate.id}: {estimate.reason}." for estimate in failed)

    ordinal = None
    if data.kind == "rated" and preference_rating(data):
        ordinal = ordinal_logit(data, scores, typicality=typicalities[0])
        if not ordinal.fitted:
            warnings.append(f"Ordinal model not fitted: {ordinal.reason}.")

    fingerprint = design.attrs.get("model")
    model = dict(model_card) if model_card else {"model": None, "fingerprint": fingerprint} if fingerprint else None
    content = {
        "dataset": dataset_info(data),
        "model": model,
        "headline": headline(estimates),
        "estimates": [estimate.to_dict() for estimate in estimates],
        "agreement": agreement_rate(design, typicality=typicalities[0]).to_dict(),
        "ordinal": ordinal.to_dict() if ordinal else None,
        "pairs": accounting,
        "settings": {"seed": seed, "bootstrap": bootstrap, "ties": design.attrs.get("ties", ties), "controls": controls, "slices": slices, "typicalities": list(typicalities)},
        "warnings": warnings,
        "software": software_versions(),
    }
    bad: list[str] = []
    content = json_ready(content, "", bad)
    if bad:  # the fits never hand out a NaN; this guard makes sure none reaches a report unannounced
        content["warnings"].append(f"Non-finite numbers were replaced by null at: {', '.join(bad)}.")
    return AnalysisResults(content, design)


def estimate_specs(
    design: pd.DataFrame,
    controls: list[str] | None = None,
    slices: list[str] | None = None,
    typicalities: tuple[str, ...] = TYPICALITIES,
) -> list[tuple[str, str, list[str]]]:
    """The (slice, typicality, controls) of every fit to run, headline first (see the module docstring)."""
    correctness = design.attrs.get("correctness")
    chosen = expand_slices(design, slices)
    specs: list[tuple[str, str, list[str]]] = []
    if controls is not None:
        names = list(dict.fromkeys(control_name(name) for name in controls))
        for slice_name in chosen:
            kept = [name for name in names if not (slice_name == EQUAL_CORRECTNESS and name == correctness)]
            specs.extend((slice_name, typicality, kept) for typicality in typicalities)
        return specs
    main = [correctness] if correctness else []
    ordered = sorted(chosen, key=lambda name: {EQUAL_CORRECTNESS: 0, ALL_PAIRS: 1}.get(name, 2))
    for slice_name in ordered:
        if slice_name == EQUAL_CORRECTNESS:
            sets, slice_typicalities = [[], [LENGTH_CONTROL]], typicalities
        elif slice_name == ALL_PAIRS:
            sets = [main, main + [LENGTH_CONTROL]] + ([[], [LENGTH_CONTROL]] if correctness else [])
            slice_typicalities = typicalities
        else:
            sets, slice_typicalities = [main, main + [LENGTH_CONTROL]], typicalities[:1]
        specs.extend((slice_name, typicality, list(chosen_controls)) for typicality in slice_typicalities for chosen_controls in sets)
    return specs


def headline(estimates: list[Estimate]) -> dict:
    """The estimate to quote and its length-controlled twin, by id.

    The first fitted estimate of the first typicality definition without a length control
    (the equal-correctness fit when the data has correctness); the first estimate if none fitted.
    """
    candidates = [e for e in estimates if e.typicality == estimates[0].typicality and LENGTH_CONTROL not in e.controls] if estimates else []
    first = next((e for e in candidates if e.fitted), estimates[0] if estimates else None)
    if first is None:
        return {"estimate": None, "length_controlled": None}
    twin = next(
        (e for e in estimates if e.slice == first.slice and e.typicality == first.typicality and e.controls == first.controls + [LENGTH_CONTROL]),
        None,
    )
    return {"estimate": first.id, "length_controlled": twin.id if twin else None}


def data_warnings(accounting: dict) -> list[str]:
    """Dataset-level warnings: unscored responses and the pairs they cost."""
    messages = []
    responses = accounting.get("responses") or 0
    unscored = accounting.get("responses_without_score", 0)
    unusable = accounting.get("responses_with_unusable_score", 0)
    lost = accounting.get("dropped", {}).get("a response has no usable score", 0)
    if unscored:
        messages.append(f"{unscored} of {responses} responses have no score (skipped by the scorer or not scored yet).")
    if unusable:
        reasons = "; ".join(f"{reason}: {count}" for reason, count in accounting.get("unusable_scores", {}).items())
        messages.append(f"{unusable} of {responses} responses have no usable score ({reasons}).")
    if lost:
        messages.append(f"{lost} of {accounting['comparisons']} pairs are left out because a response has no usable score; the fits use the other {accounting['pairs']}.")
    return messages


def dataset_info(data: PreferenceData) -> dict:
    return {
        "name": data.name,
        "subset": data.subset,
        "split": data.split,
        "kind": data.kind,
        "source": data.source,
        "preference": data.preference,
        "correctness": data.correctness,
        "ratings": list(data.rating_columns),
        "n_prompts": data.n_prompts,
        "n_responses": int(len(data.responses)),
        "n_comparisons": int(len(data.comparisons)),
        "accounting": data.accounting.to_dict(),
    }


def software_versions() -> dict:
    versions = {"python": platform.python_version()}
    for package in ("typicality", "numpy", "pandas", "scipy", "statsmodels"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def json_ready(value, path: str = "", bad: list[str] | None = None):
    """Plain JSON types throughout; a non-finite float becomes None and its path is recorded in `bad`."""
    if isinstance(value, dict):
        return {str(key): json_ready(item, f"{path}.{key}" if path else str(key), bad) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item, f"{path}[{index}]", bad) for index, item in enumerate(value)]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        if bad is not None:
            bad.append(path)
        return None
    return value
