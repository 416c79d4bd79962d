"""Stage 1: any preference dataset -> `PreferenceData`."""

from typicality.data.preference_data import Accounting, PreferenceData, prompt_id_for, response_id_for
from typicality.data.registry import LoadRequest, all_loaders, get_loader, load, parse_columns, register

__all__ = [
    "Accounting",
    "LoadRequest",
    "PreferenceData",
    "all_loaders",
    "get_loader",
    "load",
    "parse_columns",
    "prompt_id_for",
    "register",
    "response_id_for",
]
