"""Stage 1: any preference dataset -> `PreferenceData`.

Each name loads its module on first use (PEP 562): the request and the registry need no pandas,
so the command line's parser and a `LoadRequest` cost no data-frame import.
"""

from __future__ import annotations

import importlib

# Public name -> the module that defines it.
_LAZY = {
    "Accounting": "typicality.domain",
    "LoadRequest": "typicality.data.request",
    "PreferenceData": "typicality.domain",
    "all_loaders": "typicality.data.registry",
    "get_loader": "typicality.data.registry",
    "load": "typicality.data.loading",
    "load_request": "typicality.data.loading",
    "parse_columns": "typicality.data.request",
    "prompt_id_for": "typicality.domain",
    "response_id_for": "typicality.domain",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'typicality.data' has no attribute {name!r}")
