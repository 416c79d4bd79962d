"""The change in alpha when the length control is added, with a prompt-cluster bootstrap CI.

"Alpha survives the length control" compares two significance verdicts, which is not a test of
the change. This module resamples prompts with replacement, refits both models (without and
with Δ log length) on the same resampled pairs, and takes the percentile interval of the
difference. Note that a logit coefficient can move when a control is added even when the
control is not a confounder (the odds ratio is not collapsible), so a change is a prompt to
look, not proof of confounding by length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from typicality.domain import PairDesign
from typicality.stats.pair_design import LENGTH_CONTROL, TYPICALITY_COLUMNS, control_column, select_slice
from typicality.stats.pairwise_models import fit_logit

DEFAULT_DRAWS = 200
SEPARATED = 30.0  # a refit whose linear predictor reaches this is (quasi-)separated: left out


def alpha_change_interval(design: PairDesign, estimate: dict, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> dict:
    """Bootstrap draws of alpha(with length) - alpha(without) on the estimate's slice: se, percentile CI, failures."""
    controls = [name for name in estimate["controls"] if name != LENGTH_CONTROL]
    columns = [TYPICALITY_COLUMNS[estimate["typicality"]]] + [control_column(name) for name in controls] + [control_column(LENGTH_CONTROL)]
    pairs = select_slice(design, estimate["slice"])
    pairs = pairs[pairs[columns].notna().all(axis=1) & pairs["label"].notna()]
    y = pairs["label"].to_numpy(dtype=float)
    X = pairs[columns].to_numpy(dtype=float)
    if design.construction == "paper":  # the paper's fits carry an intercept: both refits get one, before the length column
        X = np.column_stack([X[:, :-1], np.ones(len(X)), X[:, -1]])
    codes = pd.factorize(pairs["prompt_id"].astype(str))[0]
    members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)] if len(codes) else []
    rng = np.random.default_rng(seed)
    differences, failed = [], 0
    for _ in range(n_draws):
        chosen = rng.integers(0, len(members), size=len(members))
        rows = np.concatenate([members[g] for g in chosen])
        groups = np.repeat(np.arange(len(chosen)), [len(members[g]) for g in chosen])
        without = fit_logit(y[rows], X[rows][:, :-1], groups)
        with_length = fit_logit(y[rows], X[rows], groups)
        usable = all(
            fit.converged and np.isfinite(fit.params).all() and np.abs(design_rows @ fit.params).max() < SEPARATED
            for fit, design_rows in ((without, X[rows][:, :-1]), (with_length, X[rows]))
        )
        if usable:
            differences.append(with_length.params[0] - without.params[0])
        else:
            failed += 1
    result = {"n_draws": int(n_draws), "n_failed": int(failed), "se": None, "ci_low": None, "ci_high": None, "method": "prompt-cluster bootstrap, percentile 95% interval"}
    if len(differences) >= 2:
        low, high = np.percentile(differences, [2.5, 97.5])
        result.update(se=float(np.std(differences, ddof=1)), ci_low=float(low), ci_high=float(high))
    return result
