"""Detect (quasi-)complete separation before a logit fit, where the maximum-likelihood estimate does not exist.

A no-intercept logit of y on X has no finite MLE when some direction b != 0 never lowers the
likelihood: (2y - 1) * (X b) >= 0 for every binary row and X b = 0 for every tie (y = 0.5), with
at least one strict inequality. A linear programme finds such a b when one exists (Konis 2007,
the method of the R package `detectseparation`); statsmodels only notices the complete case.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog


def is_separated(y: np.ndarray, X: np.ndarray, tolerance: float = 1e-7) -> bool:
    """True when the labels are (quasi-)separated by the predictors, so alpha would be infinite."""
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    binary = y != 0.5
    signed = X[binary] * np.where(y[binary] > 0.5, 1.0, -1.0)[:, None]
    # maximise sum(signed @ b) subject to signed @ b >= 0, X_tie @ b = 0, -1 <= b <= 1
    result = linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed if len(signed) else None,
        b_ub=np.zeros(len(signed)) if len(signed) else None,
        A_eq=X[~binary] if (~binary).any() else None,
        b_eq=np.zeros(int((~binary).sum())) if (~binary).any() else None,
        bounds=[(-1.0, 1.0)] * X.shape[1],
        method="highs",
    )
    if result.status != 0:
        return False  # the programme is bounded and feasible (b = 0); a solver failure is no evidence of separation
    scale = np.abs(signed).sum() if len(signed) else 1.0
    return bool(-result.fun > tolerance * max(scale, 1.0))
