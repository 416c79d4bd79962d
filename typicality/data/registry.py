"""Loaders registered by name: `typicality datasets` lists them, `typicality.data.load` runs one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from typicality.errors import TypicalityError

if TYPE_CHECKING:
    from typicality.data.request import LoadRequest
    from typicality.domain import PreferenceData


@dataclass(frozen=True)
class LoaderSpec:
    name: str
    title: str  # the source's name for people, e.g. "HH-RLHF"; reports title a dataset with it
    hub_id: str | None  # None: the loader reads only the user's own files
    kind: str  # "pairwise" or "rated"
    preference: str  # what decides the label, in words
    controls: tuple[str, ...]  # ratings that can stand for true quality
    load: Callable[[LoadRequest], PreferenceData]
    subsets: tuple[str, ...] = ()
    default_subset: str | None = None
    ratings: tuple[str, ...] = ()  # rated sources: the ratings --rating may name (empty: any column of the file)


LOADERS: dict[str, LoaderSpec] = {}


def register(name: str, **spec) -> Callable:
    """Decorator: register a loader function under `name` (a name registered twice is a bug, refused)."""

    def decorate(function: Callable[[LoadRequest], PreferenceData]) -> Callable:
        if name in LOADERS and LOADERS[name].load.__qualname__ != function.__qualname__:
            raise ValueError(f"Two loaders are registered as '{name}'.")
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


def _import_loaders() -> None:
    """Importing the source modules registers them.

    Imported here, on first use, rather than at the top: the sources import this module to
    register themselves, and they pull in `datasets`, which `import typicality.data` should not.
    """
    import typicality.data.sources  # noqa: F401

