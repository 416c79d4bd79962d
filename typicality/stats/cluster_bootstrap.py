"""A cluster bootstrap of the no-intercept logit: resample prompts with replacement, refit, keep alpha.

A check on the clustered sandwich SE, off by default (it refits the model once per draw).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

# A resampled fit whose linear predictor reaches this size has (quasi-)separated data; its
# alpha is an artefact of the iteration limit, not an estimate.
SEPARATED_LINEAR_PREDICTOR = 30.0


def cluster_bootstrap(y: np.ndarray, X: np.ndarray, groups: np.ndarray, n_draws: int, seed: int = 0, start: np.ndarray | None = None) -> dict:
    """Draws of the coefficients over resampled clusters: se, percentile 95% CI of column 0, failures."""
    codes = pd.factorize(pd.Series(groups))[0]
    members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
    rng = np.random.default_rng(seed)
    draws, failed = [], 0
    for _ in range(n_draws):
        chosen = rng.integers(0, len(members), size=len(members))
        rows = np.concatenate([members[g] for g in chosen])
        params = _refit(y[rows], X[rows], start)
        if params is None:
            failed += 1
        else:
            draws.append(params)
    if len(draws) < 2:
        return {"n_draws": n_draws, "n_failed": failed, "se": None, "ci_low": None, "ci_high": None}
    alphas = np.array(draws)[:, 0]
    low, high = np.percentile(alphas, [2.5, 97.5])
    return {"n_draws": n_draws, "n_failed": failed, "se": float(alphas.std(ddof=1)), "ci_low": float(low), "ci_high": float(high)}


def _refit(y: np.ndarray, X: np.ndarray, start: np.ndarray | None) -> np.ndarray | None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            result = sm.GLM(y, X, family=sm.families.Binomial()).fit(start_params=start)
        except (PerfectSeparationWarning, np.linalg.LinAlgError, ValueError):
            return None
    params = np.asarray(result.params, dtype=float)
    if not result.converged or not np.isfinite(params).all() or np.abs(X @ params).max() > SEPARATED_LINEAR_PREDICTOR:
        return None
    return params
