"""One module per source; importing them registers their loaders."""

from typicality.data.sources import hh_rlhf  # noqa: F401
