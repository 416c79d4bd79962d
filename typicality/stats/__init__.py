"""Stage 3: how much typicality mattered. Pair design, the paper's clustered logit, agreement, ordinal model, simulation.

Each name loads its module on first use (PEP 562), so importing the package, or the light
`typicality.stats.options` the command line builds its flags from, loads no pandas or statsmodels.
"""

from __future__ import annotations

import importlib

# Public name -> the module that defines it.
_LAZY = {
    "Agreement": "typicality.stats.agreement",
    "agreement_rate": "typicality.stats.agreement",
    "AnalysisOptions": "typicality.stats.options",
    "analyze": "typicality.stats.analysis",
    "analyze_with_design": "typicality.stats.analysis",
    "estimate_specs": "typicality.stats.analysis",
    "OrdinalFit": "typicality.stats.ordinal",
    "ordinal_logit": "typicality.stats.ordinal",
    "available_slices": "typicality.stats.pair_design",
    "build_pairs": "typicality.stats.pair_design",
    "pair_accounting": "typicality.stats.pair_design",
    "select_slice": "typicality.stats.pair_design",
    "CheckedScores": "typicality.stats.scores_table",
    "check_scores": "typicality.stats.scores_table",
    "simulate": "typicality.stats.simulation",
    "Estimate": "typicality.stats.typicality_bias",
    "TypicalityBias": "typicality.stats.typicality_bias",
    "estimates_frame": "typicality.stats.typicality_bias",
    "without_prompts": "typicality.stats.negative_control",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'typicality.stats' has no attribute {name!r}")
