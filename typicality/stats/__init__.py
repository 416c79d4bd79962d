"""Stage 3: how much typicality mattered. Pair design, the paper's clustered logit, agreement, ordinal model, simulation."""

from typicality.stats.agreement import Agreement, agreement_rate
from typicality.stats.analysis import AnalysisOptions, analyze, analyze_with_design, estimate_specs
from typicality.stats.ordinal import OrdinalFit, ordinal_logit
from typicality.stats.pair_design import available_slices, build_pairs, pair_accounting, select_slice
from typicality.stats.scores_table import CheckedScores, check_scores
from typicality.stats.simulation import simulate
from typicality.stats.typicality_bias import Estimate, TypicalityBias, estimates_frame

__all__ = [
    "Agreement",
    "AnalysisOptions",
    "CheckedScores",
    "Estimate",
    "OrdinalFit",
    "TypicalityBias",
    "agreement_rate",
    "analyze",
    "analyze_with_design",
    "available_slices",
    "build_pairs",
    "check_scores",
    "estimate_specs",
    "estimates_frame",
    "ordinal_logit",
    "pair_accounting",
    "select_slice",
    "simulate",
]
