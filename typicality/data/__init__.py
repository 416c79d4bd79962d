"""Stage 1: any preference dataset -> `PreferenceData`."""

from typicality.data.loading import load, load_request
from typicality.data.registry import all_loaders, get_loader
from typicality.data.request import LoadRequest, parse_columns
from typicality.domain import Accounting, PreferenceData, prompt_id_for, response_id_for

__all__ = [
    "Accounting",
    "LoadRequest",
    "PreferenceData",
    "all_loaders",
    "get_loader",
    "load",
    "load_request",
    "parse_columns",
    "prompt_id_for",
    "response_id_for",
]
