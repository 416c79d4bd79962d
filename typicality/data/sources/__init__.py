"""One module per source; importing them registers their loaders."""

from typicality.data.sources import (  # noqa: F401
    chatbot_arena,
    hh_rlhf,
    helpsteer,
    pairs,
    ratings,
    shp,
    ultrafeedback,
    ultrafeedback_binarized,
)
