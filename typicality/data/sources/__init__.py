"""One module per source; importing them registers their loaders."""

from typicality.data.sources import (  # noqa: F401
    chatbot_arena,
    helpsteer,
    hh_rlhf,
    pairs,
    ratings,
    shp,
    ultrafeedback,
    ultrafeedback_binarized,
)
