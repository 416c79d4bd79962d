"""The versions of the software that produced a result (for score cards and results.json); torch-free."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata


def software_versions(packages: Iterable[str]) -> dict[str, str | None]:
    """Python's version and each package's installed version (None when it is not installed).

    Read from the installed distributions' metadata, so nothing is imported: asking for torch's
    version does not load torch.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions
