"""`load`: run a `LoadRequest` (valid when built) through its registered loader into `PreferenceData`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from typicality.data.registry import get_loader
from typicality.data.request import LoadRequest
from typicality.domain import PreferenceData
from typicality.errors import TypicalityError


def load(
    dataset: str | LoadRequest,
    data_files: Sequence[str | Path] | str | Path | None = None,
    subset: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    columns: dict[str, str] | None = None,
    seed: int = 0,
    rating: str | None = None,
    revision: str | None = None,
    correctness: str | None = None,
    preference: str | None = None,
    label: str | None = None,
) -> PreferenceData:
    """Load a registered dataset into `PreferenceData` (the public entry point).

    `load("hh-rlhf", data_files="test.jsonl.gz", limit=200)`, or `load(request)` with a
    `LoadRequest` (then no other argument). The options are those of `LoadRequest`.
    """
    if isinstance(dataset, LoadRequest):
        given = {"data_files": data_files, "subset": subset, "split": split, "limit": limit, "columns": columns,
                 "rating": rating, "revision": revision, "correctness": correctness, "preference": preference,
                 "label": label}  # fmt: skip
        extra = sorted(name for name, value in given.items() if value is not None) + (["seed"] if seed != 0 else [])
        if extra:
            raise TypicalityError(f"load(request) takes the options from the request; also given: {', '.join(extra)}.")
        return load_request(dataset)
    request = LoadRequest(
        dataset,
        data_files=data_files or (),
        subset=subset,
        split=split,
        limit=limit,
        seed=seed,
        columns=columns or {},
        rating=rating,
        revision=revision,
        correctness=correctness,
        preference=preference,
        label=label,
    )
    return load_request(request)


def load_request(request: LoadRequest) -> PreferenceData:
    """Run the request's loader (after its pre-flight: the local files exist), refuse data without a usable pair, then apply `limit`."""
    request.preflight()
    spec = get_loader(request.dataset)
    if request.subset is None and spec.default_subset is not None:
        request = dataclasses.replace(request, subset=spec.default_subset)
    data = spec.load(request)
    if len(data.comparisons) == 0:
        dropped = ", ".join(f"{reason}: {count}" for reason, count in data.accounting.dropped.items()) or "none"
        raise TypicalityError(
            f"Dataset '{request.dataset}' ({request.where}) gave no usable pairs "
            f"({data.accounting.rows_read} rows read; dropped: {dropped})."
        )
    # A registered hub source titles its data ("HH-RLHF"); the generic file loaders leave it to the file names.
    data = dataclasses.replace(data, source_title=spec.title if spec.hub_id is not None else None)
    return data.limit(request.limit, seed=request.seed)
