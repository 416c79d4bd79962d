"""A cluster bootstrap of a pairwise fit: resample prompts with replacement, refit, keep alpha.

A check on the clustered sandwich SE, off by default (it refits the model once per draw).
Each draw is `PairwiseResults.refit` (Newton's method from the full fit's coefficients); a draw
that does not converge or whose linear predictor reaches `SEPARATED_LINEAR_PREDICTOR`
((quasi-)separated resample: its alpha is an artefact of the iteration limit) is left out.
"""

from __future__ import annotations

import numpy as np


def cluster_bootstrap(results, n_draws: int, seed: int = 0) -> dict:
    """Draws of alpha over resampled prompts: se, percentile 95% CI, failures."""
    members = results.model.cluster_members()
    rng = np.random.default_rng(seed)
    draws, failed = [], 0
    for _ in range(n_draws):
        chosen = rng.integers(0, len(members), size=len(members))
        refit = results.refit(np.concatenate([members[g] for g in chosen]))
        if refit is None:
            failed += 1
        else:
            draws.append(refit.params)
    if len(draws) < 2:
        return {"n_draws": n_draws, "n_failed": failed, "se": None, "ci_low": None, "ci_high": None}
    alphas = np.array(draws)[:, 0]
    low, high = np.percentile(alphas, [2.5, 97.5])
    return {"n_draws": n_draws, "n_failed": failed, "se": float(alphas.std(ddof=1)), "ci_low": float(low), "ci_high": float(high)}
