"""The pairs and prompts that drive alpha: per-pair DFBETA, leave-one-prompt-out alphas, the CV3 jackknife.

For the fit results.json names as its headline (or another estimate), its `PairwiseLogit`
(the same rows and columns as the estimate: Δtypicality, the controls, and the paper
construction's intercept) `label ~ X b` is refitted here by Newton's method, and:

- **per pair**, the one-step DFBETA (Pregibon 1981): the change in b when pair i is left out,
  `b_(i) - b = -(X'WX)^-1 x_i (y_i - mu_i) / (1 - h_i)`, with W = mu(1 - mu) and the leverage
  h_i = w_i x_i'(X'WX)^-1 x_i. It is what statsmodels' GLM influence reports (`d_params`, with
  the opposite sign: statsmodels gives b - b_(i)); a test checks both against literal refits.
- **per prompt** (the cluster), alpha with all of that prompt's pairs left out. Exactly (Newton
  to convergence from the one-step value) when the fit has at most `EXACT_MAX_PROMPTS` prompts;
  beyond that the one-step cluster deletion `b_(g) = b - (H - H_g)^-1 s_g`, where H = X'WX, H_g
  its part from prompt g and s_g = X_g'(y_g - mu_g) the prompt's score: one Newton step from
  the full fit towards the fit without g, whose error is of order (pairs per prompt / pairs)^2
  and so negligible exactly where it is used (many prompts). A test compares the two.
- the **CV3** cluster-jackknife variance (MacKinnon, Nielsen & Webb 2023, "Cluster-robust
  inference: A guide to empirical practice", J. Econometrics): `(G-1)/G * sum_g (b_(g) - b)^2`,
  with a t(G-1) interval. It is more conservative than the sandwich (CV1) when a few prompts
  dominate, so the report shows it beside the headline SE as a robustness row.
- alpha without the top 1% of prompts: the ceil(1%) prompts whose removal moves alpha most
  towards zero, removed together and the headline fit rerun on the rest (statsmodels, clustered).

`influence_table` is what `influence.parquet` holds: one row per pair (`level` "pair") and one
per prompt (`level` "prompt"), each with `alpha_without` and `change` = alpha_without - alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from typicality.display import Card, Displayed
from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.results import AuditResults, Estimate, InfluenceSummary
from typicality.stats.numbers import finite_or_none
from typicality.stats.pairwise_logit import PairwiseLogit, PairwiseSpec, t_inference
from typicality.stats.pairwise_models import fit_logit as newton_fit
from typicality.stats.typicality_bias import fit_estimate

EXACT_MAX_PROMPTS = 3000  # exact leave-one-prompt-out refits up to this many prompts; one-step beyond
TOP_SHARE = 0.01  # "without the top 1% of prompts"
NEWTON_TOLERANCE = 1e-10
NEWTON_MAX_STEPS = 50


@dataclass(repr=False)  # repr: the summary's card (typicality/display.py), not the table's rows
class InfluenceResult(Displayed):
    """`table`: influence.parquet's rows; `summary`: influence.json's content."""

    table: pd.DataFrame
    summary: InfluenceSummary

    def _card(self) -> Card:
        return self.summary._card()


@dataclass
class _Fit:
    """The logit of one estimate, as arrays (rows: the fitted pairs)."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray  # prompt index per pair
    prompts: np.ndarray  # prompt id per group index
    pairs: pd.DataFrame  # the fitted rows of the design
    params: np.ndarray


def estimate_arrays(design: PairDesign, estimate: Estimate) -> _Fit:
    """The rows and columns the estimate was fitted on (its `PairwiseLogit`), and the coefficients refitted by Newton's method."""
    model = PairwiseLogit(design, PairwiseSpec.of(estimate))
    fitted = newton_fit(model.y, model.X, model.groups)  # the same Newton fit the bootstrap and validation tables use
    if not fitted.converged:
        raise TypicalityError(f"The fit {estimate.id} did not converge when refitted for influence; its influence is not computed.")
    return _Fit(model.X, model.y, model.groups, model.prompts, model.rows, fitted.params)


def pair_dfbeta(X: np.ndarray, y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """One-step b_(i) - b for every pair i (rows), Pregibon's closed form."""
    mu = expit(X @ params)
    w = mu * (1 - mu)
    hessian_inverse = np.linalg.inv((X * w[:, None]).T @ X)
    projected = X @ hessian_inverse  # row i: x_i' (X'WX)^-1
    leverage = w * np.einsum("ij,ij->i", projected, X)
    return -projected * ((y - mu) / (1 - leverage))[:, None]


def prompt_deletions(X: np.ndarray, y: np.ndarray, groups: np.ndarray, params: np.ndarray, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """b_(g) for every prompt g (rows), and whether each converged. One-step, then Newton to convergence if `exact`."""
    n_groups = int(groups.max()) + 1
    mu = expit(X @ params)
    w = mu * (1 - mu)
    hessian = (X * w[:, None]).T @ X
    k = X.shape[1]
    # Per-prompt score s_g and Hessian part H_g, summed with bincount (no Python loop over pairs).
    score = np.stack([np.bincount(groups, weights=X[:, j] * (y - mu), minlength=n_groups) for j in range(k)], axis=1)
    outer = np.stack([np.bincount(groups, weights=w * X[:, a] * X[:, c], minlength=n_groups) for a in range(k) for c in range(k)], axis=1).reshape(
        n_groups, k, k
    )
    remaining = hessian[None, :, :] - outer
    one_step = params[None, :] - np.linalg.solve(remaining, score[:, :, None])[:, :, 0]
    converged = np.ones(n_groups, dtype=bool)
    if not exact:
        return one_step, converged
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(n_groups + 1))
    result = one_step.copy()
    for g in range(n_groups):
        rows = order[bounds[g] : bounds[g + 1]]
        result[g], converged[g] = _newton_without(X, y, rows, one_step[g])
    return result, converged


def _newton_without(X: np.ndarray, y: np.ndarray, rows: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, bool]:
    """Newton's method for the logit without `rows`, from `start`: full sums minus the left-out rows' part."""
    b = start.copy()
    X_out, y_out = X[rows], y[rows]
    for _ in range(NEWTON_MAX_STEPS):
        mu = expit(X @ b)
        mu_out = mu[rows]
        gradient = X.T @ (y - mu) - X_out.T @ (y_out - mu_out)
        w, w_out = mu * (1 - mu), mu_out * (1 - mu_out)
        hessian = (X * w[:, None]).T @ X - (X_out * w_out[:, None]).T @ X_out
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return np.full_like(b, np.nan), False
        b = b + step
        if np.max(np.abs(step)) < NEWTON_TOLERANCE:
            return b, bool(np.all(np.isfinite(b)))
    return b, False


def cv3(params: np.ndarray, deletions: np.ndarray) -> np.ndarray:
    """The CV3 jackknife covariance (G-1)/G * sum_g (b_(g) - b)(b_(g) - b)' (MacKinnon, Nielsen & Webb 2023)."""
    n_groups = len(deletions)
    centred = deletions - params[None, :]
    return (n_groups - 1) / n_groups * centred.T @ centred


def compute_influence(design: PairDesign, estimate: Estimate, *, exact_max_prompts: int = EXACT_MAX_PROMPTS, top_share: float = TOP_SHARE) -> InfluenceResult:
    """Influence of every pair and every prompt on the estimate's alpha, the CV3 row, and alpha without the top prompts."""
    if not estimate.fitted:
        raise TypicalityError(f"The fit {estimate.id} was not fitted ({estimate.reason}), so it has no influence to compute.")
    fit = estimate_arrays(design, estimate)
    alpha = float(fit.params[0])
    n_prompts = len(fit.prompts)
    exact = n_prompts <= exact_max_prompts
    dfbeta = pair_dfbeta(fit.X, fit.y, fit.params)[:, 0]
    deletions, converged = prompt_deletions(fit.X, fit.y, fit.groups, fit.params, exact)
    deletions[~converged] = np.nan
    prompt_alpha = deletions[:, 0]
    good = np.isfinite(deletions).all(axis=1)
    covariance = cv3(fit.params, deletions[good])
    table = influence_table(fit, alpha, dfbeta, prompt_alpha, "exact" if exact else "one-step")
    summary = InfluenceSummary(
        available=True,
        estimate=estimate.id,
        alpha=alpha,
        n_pairs=int(len(fit.y)),
        n_prompts=int(n_prompts),
        prompt_method="exact" if exact else "one-step",
        exact_max_prompts=int(exact_max_prompts),
        n_prompts_not_converged=int((~good).sum()),
        cv1_se=finite_or_none(estimate.se),
        cv3=_cv3_row(alpha, covariance[0, 0], int(good.sum())),
        largest_pair_change=finite_or_none(np.max(np.abs(dfbeta))) if len(dfbeta) else None,
        largest_prompt_change=finite_or_none(np.nanmax(np.abs(prompt_alpha - alpha))) if good.any() else None,
        leave_one_prompt_out=_quantiles(prompt_alpha[good]),
        without_top_prompts=_without_top(design, estimate, fit, alpha, prompt_alpha, top_share),
    )
    return InfluenceResult(table, summary)


def influence_table(fit: _Fit, alpha: float, dfbeta: np.ndarray, prompt_alpha: np.ndarray, prompt_method: str) -> pd.DataFrame:
    """influence.parquet's rows: pairs then prompts, each ranked by |change| (1 = most influential)."""
    pairs = pd.DataFrame(
        {
            "level": "pair",
            "prompt_id": fit.pairs["prompt_id"].astype(str).to_numpy(),
            "comparison": fit.pairs["comparison"].to_numpy(dtype="int64") if "comparison" in fit.pairs.columns else np.arange(len(fit.y)),
            "response_a": fit.pairs["response_a"].astype(str).to_numpy() if "response_a" in fit.pairs.columns else None,
            "response_b": fit.pairs["response_b"].astype(str).to_numpy() if "response_b" in fit.pairs.columns else None,
            "n_pairs": 1,
            "alpha_without": alpha + dfbeta,
            "change": dfbeta,
            "method": "one-step",
        }
    )
    prompts = pd.DataFrame(
        {
            "level": "prompt",
            "prompt_id": fit.prompts.astype(str),
            "comparison": -1,
            "response_a": None,
            "response_b": None,
            "n_pairs": np.bincount(fit.groups, minlength=len(fit.prompts)),
            "alpha_without": prompt_alpha,
            "change": prompt_alpha - alpha,
            "method": prompt_method,
        }
    )
    for frame in (pairs, prompts):
        frame["rank"] = frame["change"].abs().rank(ascending=False, method="first", na_option="bottom").astype("int64")
    table = pd.concat([pairs, prompts], ignore_index=True)
    table["comparison"] = table["comparison"].astype("int64")
    table["n_pairs"] = table["n_pairs"].astype("int64")
    return table


def _cv3_row(alpha: float, variance: float, n_groups: int) -> dict:
    if n_groups < 2 or not np.isfinite(variance) or variance <= 0:
        return {"se": None, "ci_low": None, "ci_high": None, "p_value": None, "df": max(n_groups - 1, 0)}
    se = math.sqrt(variance)
    df = n_groups - 1
    pvalues, ci = t_inference([alpha], [se], df)
    return {"se": se, "ci_low": float(ci[0, 0]), "ci_high": float(ci[0, 1]), "p_value": float(pvalues[0]), "df": df}


def _quantiles(values: np.ndarray) -> dict:
    if not len(values):
        return {}
    points = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
    return {f"q{round(100 * p):02d}": float(value) for p, value in zip(points, np.quantile(values, points))}


def _without_top(design: PairDesign, estimate: Estimate, fit: _Fit, alpha: float, prompt_alpha: np.ndarray, share: float) -> dict:
    """Refit without the ceil(share * G) prompts whose removal moves alpha most towards zero."""
    n_top = max(1, math.ceil(share * len(fit.prompts)))
    towards_zero = (prompt_alpha - alpha) * np.sign(alpha)  # most negative: removal shrinks |alpha| most
    order = np.argsort(np.nan_to_num(towards_zero, nan=np.inf), kind="stable")[:n_top]
    removed = set(fit.prompts[order])
    kept = fit.pairs[~fit.pairs["prompt_id"].astype(str).isin(removed)]
    refit, _ = fit_estimate(design.with_frame(kept), PairwiseSpec.of(estimate))
    return {
        "share": share,
        "n_prompts_removed": int(n_top),
        "n_pairs_removed": int(len(fit.pairs) - len(kept)),
        "prompts_removed": sorted(str(prompt) for prompt in removed),
        "fitted": bool(refit.fitted),
        "reason": refit.reason,
        "alpha": refit.alpha,
        "se": refit.se,
        "ci_low": refit.ci_low,
        "ci_high": refit.ci_high,
        "p_value": refit.p_value,
        "change": None if refit.alpha is None else refit.alpha - alpha,
        "sign_changed": None if refit.alpha is None else bool(np.sign(refit.alpha) != np.sign(alpha)),
    }


def influence_estimate(results: AuditResults, estimate: str | None = None) -> Estimate:
    """The estimate influence is computed for: `estimate` if given, else results.json's headline."""
    wanted = estimate or results.headline.estimate
    record = results.estimate(wanted)
    if record is None:
        known = ", ".join(r.id for r in results.estimates) or "none"
        raise TypicalityError(f"No estimate '{wanted}' in results.json (its estimates: {known}).")
    return record
