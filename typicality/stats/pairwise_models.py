"""Two pairwise likelihoods fitted by Newton's method, with prompt-clustered sandwich covariances.

- `fit_logit`: the paper's no-intercept binomial logit (the same fit as statsmodels' GLM; a
  test checks both agree to 1e-8). Used where thousands of refits are needed (the
  alpha-change bootstrap, the validation tables) and statsmodels' per-fit overhead dominates.
- `fit_rao_kupper`: the tie-aware model (Rao & Kupper 1967, in its logistic form): with
  s = x'beta and a tie threshold tau > 0,
      P(a preferred) = sigmoid(s - tau),  P(b preferred) = sigmoid(-s - tau),  P(tie) = the rest.
  It is an ordered logit of the pair's outcome (b, tie, a) on the differences, with thresholds
  -tau and +tau: symmetric because pairs are oriented at random, so "a" and "b" are
  exchangeable. A test checks it against statsmodels' OrderedModel on the symmetrised pairs.

Both return a `PairwiseFit`: coefficients, the cluster-robust covariance with statsmodels'
small-sample correction G/(G-1) * (N-1)/(N-K) (what `cov_type="cluster"` with
`use_correction=True` applies), the number of clusters and whether Newton converged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

MAX_ITERATIONS = 100
TOLERANCE = 1e-10


@dataclass
class PairwiseFit:
    params: np.ndarray  # coefficients of X's columns (Rao-Kupper: then tau)
    cov: np.ndarray  # cluster-robust covariance of params
    n_clusters: int
    converged: bool

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


def cluster_sandwich(scores: np.ndarray, hessian: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, int]:
    """H^-1 (sum over clusters of s_g s_g') H^-1, times G/(G-1) * (N-1)/(N-K); `scores` are per observation."""
    codes, n_clusters = _codes(groups)
    n, k = scores.shape
    summed = np.zeros((n_clusters, k))
    np.add.at(summed, codes, scores)
    try:
        bread = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:  # a singular information matrix (a resample with a constant column): no covariance
        return np.full((k, k), np.nan), n_clusters
    meat = summed.T @ summed
    correction = n_clusters / (n_clusters - 1) * (n - 1) / (n - k) if n_clusters > 1 and n > k else 1.0
    return correction * bread @ meat @ bread, n_clusters


def fit_logit(y: np.ndarray, X: np.ndarray, groups: np.ndarray, start: np.ndarray | None = None) -> PairwiseFit:
    """No-intercept logit of y (0, 1 or 0.5 as a fractional response) on X by Newton-Raphson."""
    y, X = np.asarray(y, dtype=float), np.asarray(X, dtype=float)
    beta = np.zeros(X.shape[1]) if start is None else np.asarray(start, dtype=float).copy()
    converged = False
    for _ in range(MAX_ITERATIONS):
        p = expit(X @ beta)
        gradient = X.T @ (y - p)
        information = (X * (p * (1 - p))[:, None]).T @ X
        try:
            step = np.linalg.solve(information, gradient)
        except np.linalg.LinAlgError:
            break
        beta += step
        if not np.isfinite(beta).all():
            break
        if np.max(np.abs(step)) < TOLERANCE * (1 + np.max(np.abs(beta))):
            converged = True
            break
    p = expit(X @ beta)
    information = (X * (p * (1 - p))[:, None]).T @ X
    cov, n_clusters = cluster_sandwich(X * (y - p)[:, None], information, groups)
    return PairwiseFit(beta, cov, n_clusters, converged and bool(np.isfinite(cov).all()))


def _rao_kupper_terms(theta: np.ndarray, y: np.ndarray, X: np.ndarray):
    """Log-likelihood and per-pair scores (d/d beta, d/d tau) of the Rao-Kupper model."""
    beta, tau = theta[:-1], theta[-1]
    s = X @ beta
    a, b, tie = y == 1.0, y == 0.0, y == 0.5
    loglik = np.where(a, log_expit(s - tau), 0.0) + np.where(b, log_expit(-s - tau), 0.0)
    upper, lower = expit(s + tau), expit(s - tau)
    tie_prob = np.clip(upper - lower, 1e-300, None)
    loglik = loglik + np.where(tie, np.log(tie_prob), 0.0)
    density_upper, density_lower = upper * (1 - upper), lower * (1 - lower)
    d_s = np.where(a, 1 - lower, 0.0) - np.where(b, upper, 0.0) + np.where(tie, (density_upper - density_lower) / tie_prob, 0.0)
    d_tau = -np.where(a, 1 - lower, 0.0) - np.where(b, upper, 0.0) + np.where(tie, (density_upper + density_lower) / tie_prob, 0.0)
    scores = np.column_stack([X * d_s[:, None], d_tau])
    return loglik.sum(), scores


def _numeric_hessian(theta: np.ndarray, y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Minus the Hessian of the log-likelihood by central differences of the analytic score."""
    k = len(theta)
    hessian = np.zeros((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        hessian[:, j] = -(_rao_kupper_terms(up, y, X)[1].sum(0) - _rao_kupper_terms(down, y, X)[1].sum(0)) / (2 * h)
    return (hessian + hessian.T) / 2


def fit_rao_kupper(y: np.ndarray, X: np.ndarray, groups: np.ndarray) -> PairwiseFit:
    """Tie-aware fit: y is 1 (a preferred), 0 (b preferred) or 0.5 (tie); params are X's coefficients, then tau."""
    y, X = np.asarray(y, dtype=float), np.asarray(X, dtype=float)
    tie_share = float(np.mean(y == 0.5))
    # Start at beta = 0 and the tau that reproduces the tie share: P(tie | s=0) = 2 sigmoid(tau) - 1.
    tau0 = float(np.log((1 + tie_share) / max(1 - tie_share, 1e-6))) if tie_share > 0 else 0.1
    theta = np.r_[np.zeros(X.shape[1]), max(tau0, 1e-3)]
    loglik, scores = _rao_kupper_terms(theta, y, X)
    converged = False
    for _ in range(MAX_ITERATIONS):
        gradient = scores.sum(0)
        information = _numeric_hessian(theta, y, X)
        try:
            step = np.linalg.solve(information, gradient)
        except np.linalg.LinAlgError:
            break
        # Halve the step until the likelihood rises and tau stays positive (Newton can overshoot far from the optimum).
        for _ in range(30):
            candidate = theta + step
            if candidate[-1] > 0:
                new_loglik, new_scores = _rao_kupper_terms(candidate, y, X)
                if np.isfinite(new_loglik) and new_loglik >= loglik - 1e-12:
                    break
            step = step / 2
        else:
            break
        theta, loglik, scores = candidate, new_loglik, new_scores
        if np.max(np.abs(step)) < 1e-9 * (1 + np.max(np.abs(theta))):
            converged = True
            break
    cov, n_clusters = cluster_sandwich(scores, _numeric_hessian(theta, y, X), groups)
    return PairwiseFit(theta, cov, n_clusters, converged and bool(np.isfinite(cov).all()))


def _codes(groups: np.ndarray) -> tuple[np.ndarray, int]:
    _, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes, int(codes.max() + 1) if len(codes) else 0
