"""Loaders registered by name: `typicality datasets` lists them, `load()` runs one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from typicality.data.preference_data import PreferenceData
from typicality.errors import TypicalityError


@dataclass(frozen=True)
class LoadRequest:
    """Where to read from and how: the loader options shared by every command."""

    data_files: tuple[str, ...] = ()  # local copies in the source's original format; empty = the hub
    subset: str | None = None
    split: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # canonical name -> the file's column name
    options: dict = field(default_factory=dict)  # loader-specific, e.g. {"rating": "overall_score"}


@dataclass(frozen=True)
class LoaderSpec:
    name: str
    hub_id: str | None
    kind: str  # "pairwise" or "rated"
    preference: str  # what decides the label, in words
    controls: tuple[str, ...]  # ratings that can stand for true quality
    load: Callable[[LoadRequest], PreferenceData]
    subsets: tuple[str, ...] = ()
    default_subset: str | None = None
    default_split: str = "train"
    description: str = ""


LOADERS: dict[str, LoaderSpec] = {}


def register(name: str, **spec) -> Callable:
    """Decorator: register a loader function under `name`."""

    def decorate(function: Callable[[LoadRequest], PreferenceData]) -> Callable:
        LOADERS[name] = LoaderSpec(name=name, load=function, **spec)
        return function

    return decorate


def get_loader(name: str) -> LoaderSpec:
    _import_loaders()
    if name not in LOADERS:
        known = ", ".join(sorted(LOADERS))
        raise TypicalityError(f"Unknown dataset '{name}'. Known datasets: {known}.")
    return LOADERS[name]


def all_loaders() -> list[LoaderSpec]:
    _import_loaders()
    return [LOADERS[name] for name in sorted(LOADERS)]


def load(
    name: str,
    data_files: list[str] | tuple[str, ...] | str | None = None,
    subset: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    columns: dict[str, str] | None = None,
    seed: int = 0,
    **options,
) -> PreferenceData:
    """Load a registered dataset into `PreferenceData` (the public entry point)."""
    spec = get_loader(name)
    if isinstance(data_files, str):
        data_files = [data_files]
    if subset is not None and spec.subsets and subset not in spec.subsets:
        raise TypicalityError(f"Dataset '{name}' has no subset '{subset}'. Its subsets: {', '.join(spec.subsets)}.")
    request = LoadRequest(
        data_files=tuple(data_files or ()),
        subset=subset if subset is not None else spec.default_subset,
        split=split,
        columns=dict(columns or {}),
        options=options,
    )
    data = spec.load(request)
    if len(data.comparisons) == 0:
        dropped = ", ".join(f"{reason}: {count}" for reason, count in data.accounting.dropped.items()) or "none"
        raise TypicalityError(
            f"Dataset '{name}' gave no usable pairs ({data.accounting.rows_read} rows read; dropped: {dropped})."
        )
    return data.limit(limit, seed=seed)


def parse_columns(text: str | None) -> dict[str, str]:
    """Parse `--columns new=old,new2=old2` into {new: old}."""
    if not text:
        return {}
    mapping = {}
    for item in text.split(","):
        if "=" not in item:
            raise TypicalityError(f"--columns expects new=old pairs separated by commas, got '{item}'.")
        new, old = (part.strip() for part in item.split("=", 1))
        if not new or not old:
            raise TypicalityError(f"--columns expects new=old pairs separated by commas, got '{item}'.")
        mapping[new] = old
    return mapping


def _import_loaders() -> None:
    """Importing the source modules registers them."""
    import typicality.data.sources  # noqa: F401
