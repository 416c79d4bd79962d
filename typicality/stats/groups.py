"""Typicality bias per group (annotator, judge, domain, language, ...), with partial pooling.

The estimator is two-stage; docs/groups.md gives the simulation that chose it over a random-slope
mixed logit, and its coverage, size and power.

Stage 1, each group alone (`grouped_logit`): the headline's pairwise logit (its slice, typicality
and controls) on the group's pairs, with the prompt-clustered sandwich and statsmodels'
small-sample correction G/(G-1) * (N-1)/(N-K), G = the group's prompts: per group exactly what
`PairwiseLogit` fits on that group's pairs (a test checks it), by one Newton iteration vectorised
over all groups, so that thousands of annotators cost one pass over the pairs.

Stage 2, the groups together (`random_effects`): alpha_g ~ N(alpha_g_true, se_g^2) with
alpha_g_true ~ N(mu, tau^2):
- tau^2 by Paule-Mandel (the tau^2 at which the generalised Q statistic equals its expectation
  k - 1), and its 95% CI by the Q-profile (Viechtbauer 2007): the tau^2 at which the generalised
  Q reaches the chi-square(k - 1) quantiles; tau is reported on the alpha scale (sqrt);
- I^2 = (Q - (k - 1)) / Q from Cochran's Q (floored at 0), and the test of no heterogeneity:
  Q against chi-square(k - 1). Its null distribution is derived at tau = 0 itself, so the
  boundary that makes a likelihood-ratio test non-standard (chi-bar-squared) does not arise;
- the population alpha mu and each group's partially pooled alpha, integrated over tau: given
  tau, mu has a flat prior and each alpha_g its normal posterior (shrunk toward mu by
  se_g^2 / (se_g^2 + tau^2)); tau gets a uniform prior and its restricted (REML) likelihood,
  evaluated on a grid. Plugging in one tau-hat (plain empirical Bayes) ignores that tau-hat is
  uncertain and is often 0, and its intervals then undercover (Morris 1983); integrating over
  tau is the correction for that (docs/groups.md measures both);
- which groups differ from the population: z = (alpha_g - mu) / SD(alpha_g - mu) under
  alpha_g_true = mu (given tau-hat), two-sided normal p, Holm-adjusted across the groups
  (family-wise, as the robustness set's Holm: "this annotator differs" is a claim about a
  person, and Holm makes no independence assumption).

Groups with fewer than `min_pairs` pairs are pooled into one group, `OTHER_GROUP`, named and
counted; being a mixture of groups its alpha is fitted and shown but it takes no part in stage 2.
Pure statistics: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, log_expit, ndtr
from scipy.stats import chi2, norm
from scipy.stats import t as student_t

from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.results import GroupAlpha, Groups
from typicality.stats.options import DEFAULT_MIN_PAIRS  # noqa: F401  (smaller groups are pooled into OTHER_GROUP)
from typicality.stats.pairwise_logit import MIN_CLUSTERS, MIN_PAIRS, SEPARATED_LINEAR_PREDICTOR, PairwiseLogit, PairwiseSpec
from typicality.stats.separation import is_separated

OTHER_GROUP = "(pooled small groups)"
MIN_GROUPS = 3  # tau from fewer groups is not estimable
LEVEL = 0.95
TAU_GRID = 160  # grid points over tau for the integration (the trapezoid rule; a test checks it against quadrature)
MAX_ITERATIONS = 100
TOLERANCE = 1e-10
METHOD = (
    "two-stage: each group's prompt-clustered logit, then random effects (Paule-Mandel tau, Q-profile CI, Cochran's Q), "
    "partially pooled alphas integrated over tau's restricted likelihood (uniform prior on tau)"
)


# ---------------------------------------------------------------------------------------------
# Stage 1: one logit per group, vectorised


@dataclass(frozen=True)
class GroupedFits:
    """Per group: coefficients (G, K), clustered covariances (G, K, K), pairs, prompts, and whether Newton converged."""

    params: np.ndarray
    cov: np.ndarray
    n_pairs: np.ndarray
    n_clusters: np.ndarray
    converged: np.ndarray
    max_linear_predictor: np.ndarray
    model_variance: np.ndarray  # alpha's model-based (inverse information) variance, per group

    @property
    def alpha(self) -> np.ndarray:
        return self.params[:, 0]

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.clip(self.cov[:, 0, 0], 0.0, None))


def grouped_logit(y: np.ndarray, X: np.ndarray, groups: np.ndarray, clusters: np.ndarray) -> GroupedFits:
    """The no-intercept logit of y on X within each group (codes 0..G-1), clustered by `clusters` within the group.

    Newton-Raphson on all groups at once: a group's score and information are sums over its
    rows (np.bincount), so one iteration costs one pass over the pairs whatever the number of groups.
    """
    y, X = np.asarray(y, dtype=float), np.asarray(X, dtype=float)
    groups = np.asarray(groups, dtype=np.int64)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    k = X.shape[1]
    beta = np.zeros((n_groups, k))
    active = np.ones(n_groups, dtype=bool)
    converged = np.zeros(n_groups, dtype=bool)
    for _ in range(MAX_ITERATIONS):
        p = expit(np.einsum("ij,ij->i", X, beta[groups]))
        gradient = _group_sums(X * (y - p)[:, None], groups, n_groups)
        information = _group_outer_sums(X, p * (1 - p), groups, n_groups)
        step = np.zeros_like(beta)
        solvable = active & (np.abs(np.linalg.det(information)) > 0)
        step[solvable] = np.linalg.solve(information[solvable], gradient[solvable][..., None])[..., 0]
        beta = beta + step
        active &= solvable & np.isfinite(beta).all(axis=1)
        done = active & (np.abs(step).max(axis=1) < TOLERANCE * (1 + np.abs(beta).max(axis=1)))
        converged |= done
        active &= ~done
        if not active.any():
            break
    linear = np.einsum("ij,ij->i", X, np.nan_to_num(beta)[groups])
    p = expit(linear)
    information = _group_outer_sums(X, p * (1 - p), groups, n_groups)
    # The meat: per (group, cluster) summed scores, then their outer products summed per group.
    _, cell = np.unique(np.column_stack([groups, np.asarray(clusters)]), axis=0, return_inverse=True)
    cell = cell.ravel()
    cell_group = np.zeros(int(cell.max()) + 1 if len(cell) else 0, dtype=np.int64)
    cell_group[cell] = groups
    cell_scores = _group_sums(X * (y - p)[:, None], cell, len(cell_group))
    meat = _group_outer_sums(cell_scores, np.ones(len(cell_group)), cell_group, n_groups)
    n_pairs = np.bincount(groups, minlength=n_groups)
    n_clusters = np.bincount(cell_group, minlength=n_groups)
    cov = np.full((n_groups, k, k), np.nan)
    invertible = np.abs(np.linalg.det(information)) > 0
    bread = np.linalg.inv(information[invertible])
    with np.errstate(divide="ignore", invalid="ignore"):
        correction = np.where((n_clusters > 1) & (n_pairs > k), n_clusters / (n_clusters - 1) * (n_pairs - 1) / (n_pairs - k), 1.0)
    cov[invertible] = correction[invertible, None, None] * bread @ meat[invertible] @ bread
    max_linear = np.zeros(n_groups)
    np.maximum.at(max_linear, groups, np.abs(linear))
    converged &= np.isfinite(cov).all(axis=(1, 2))
    model_variance = np.full(n_groups, np.nan)
    model_variance[invertible] = bread[:, 0, 0]
    return GroupedFits(beta, cov, n_pairs, n_clusters, converged, max_linear, model_variance)


def _group_sums(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    return np.stack([np.bincount(groups, weights=values[:, j], minlength=n_groups) for j in range(values.shape[1])], axis=1)


def _group_outer_sums(X: np.ndarray, weights: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group: sum over its rows of weight * x x' (G, K, K)."""
    k = X.shape[1]
    out = np.empty((n_groups, k, k))
    for i in range(k):
        for j in range(i, k):
            out[:, i, j] = out[:, j, i] = np.bincount(groups, weights=weights * X[:, i] * X[:, j], minlength=n_groups)
    return out


def log_likelihoods(y: np.ndarray, X: np.ndarray, groups: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Each group's log-likelihood at its coefficients (for tests and diagnostics)."""
    linear = np.einsum("ij,ij->i", X, params[groups])
    return np.bincount(groups, weights=y * log_expit(linear) + (1 - y) * log_expit(-linear), minlength=len(params))


# ---------------------------------------------------------------------------------------------
# Stage 2: random effects


def stage2_variance(se: np.ndarray, n_clusters: np.ndarray, model_variance: np.ndarray) -> np.ndarray:
    """A group's sampling variance for stage 2: the larger of its clustered variance, scaled so that +-1.96 of its root is
    the group's own t(G-1) interval, and its model-based (inverse information) variance.

    A group has few prompts, and with few clusters the sandwich runs small and is noisy (the single
    fit answers with t(G - 1), stats/pairwise_logit.py); taken at face value it makes Cochran's Q
    reject too often at tau = 0 (8.8% at 5% with 50 groups of 200 pairs) and the pooled intervals
    too narrow. The model-based variance cannot see clustering. The larger of the two is the
    conservative choice that keeps the test's size under 5% (docs/groups.md measures each).
    """
    factor = student_t.ppf(0.975, np.maximum(np.asarray(n_clusters) - 1, 1)) / norm.ppf(0.975)
    return np.maximum((np.asarray(se, dtype=float) * factor) ** 2, np.asarray(model_variance, dtype=float))


@dataclass(frozen=True)
class RandomEffects:
    """Stage 2 on k group estimates `y` with variances `v` (every array in the groups' order)."""

    mu: float
    mu_low: float
    mu_high: float
    tau: float
    tau_low: float
    tau_high: float
    tau_dl: float  # DerSimonian-Laird, for reference
    q: float
    q_df: int
    q_p_value: float
    i_squared: float
    pooled: np.ndarray  # partially pooled alpha per group
    pooled_low: np.ndarray
    pooled_high: np.ndarray
    plugin_low: np.ndarray  # plain empirical Bayes at tau-hat (no correction), for the validation only
    plugin_high: np.ndarray
    z: np.ndarray  # (alpha_g - mu) / SD under alpha_g_true = mu
    p_value: np.ndarray
    p_holm: np.ndarray


def generalized_q(tau2: float, y: np.ndarray, v: np.ndarray) -> float:
    """Q(tau^2) = sum w (y - mu_w)^2 with w = 1 / (v + tau^2): decreasing in tau^2; Q(0) is Cochran's Q."""
    w = 1.0 / (v + tau2)
    mu = np.sum(w * y) / np.sum(w)
    return float(np.sum(w * (y - mu) ** 2))


def _solve_q(target: float, y: np.ndarray, v: np.ndarray) -> float:
    """The tau^2 >= 0 at which Q(tau^2) = target (0 when Q(0) is already below it)."""
    if generalized_q(0.0, y, v) <= target:
        return 0.0
    upper = max(float(np.var(y)), float(np.max(v)), 1e-8)
    while generalized_q(upper, y, v) > target:
        upper *= 4.0
    return brentq(lambda t: generalized_q(t, y, v) - target, 0.0, upper, xtol=1e-12, rtol=1e-10)


def tau2_paule_mandel(y: np.ndarray, v: np.ndarray) -> float:
    return _solve_q(len(y) - 1.0, y, v)


def tau2_dersimonian_laird(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    q = generalized_q(0.0, y, v)
    return max(0.0, (q - (len(y) - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))


def q_profile_interval(y: np.ndarray, v: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The Q-profile CI for tau^2 (Viechtbauer 2007)."""
    df = len(y) - 1
    tail = (1 - level) / 2
    return _solve_q(chi2.ppf(1 - tail, df), y, v), _solve_q(chi2.ppf(tail, df), y, v)


def tau_posterior(y: np.ndarray, v: np.ndarray, grid_size: int = TAU_GRID) -> tuple[np.ndarray, np.ndarray]:
    """A grid over tau and its posterior weights: uniform prior on tau times the restricted likelihood (mu integrated out)."""
    tau_high = math.sqrt(q_profile_interval(y, v, 0.999)[1])
    upper = 3.0 * max(tau_high, float(np.std(y)), float(np.sqrt(np.median(v))))
    tau = np.linspace(0.0, upper, grid_size)
    w = 1.0 / (v[None, :] + tau[:, None] ** 2)
    mu = np.sum(w * y, axis=1) / np.sum(w, axis=1)
    log_likelihood = 0.5 * (np.sum(np.log(w), axis=1) - np.log(np.sum(w, axis=1)) - np.sum(w * (y - mu[:, None]) ** 2, axis=1))
    weight = np.exp(log_likelihood - log_likelihood.max())
    weight[[0, -1]] *= 0.5  # the trapezoid rule over the grid
    return tau, weight / weight.sum()


def conditional_posteriors(y: np.ndarray, v: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Given each tau: mu's mean and variance (flat prior), and each group's posterior mean and variance (tau, group)."""
    tau2 = np.asarray(tau, dtype=float)[:, None] ** 2
    w = 1.0 / (v[None, :] + tau2)
    mu_var = 1.0 / np.sum(w, axis=1)
    mu = np.sum(w * y, axis=1) * mu_var
    keep = tau2 / (tau2 + v[None, :])  # the weight on the group's own estimate
    mean = keep * y[None, :] + (1 - keep) * mu[:, None]
    var = keep * v[None, :] + (1 - keep) ** 2 * mu_var[:, None]
    return mu, mu_var, mean, var


def mixture_quantiles(weights: np.ndarray, means: np.ndarray, sds: np.ndarray, probabilities: tuple[float, ...]) -> list[np.ndarray]:
    """Quantiles of normal mixtures: component j of column g is N(means[j, g], sds[j, g]) with weight weights[j]."""
    low = (means - 8 * sds).min(axis=0)
    high = (means + 8 * sds).max(axis=0)
    out = []
    for probability in probabilities:
        a, b = low.copy(), high.copy()
        for _ in range(40):  # bisection: 2^-40 of the 16-SD bracket
            middle = (a + b) / 2
            below = weights @ ndtr((middle[None, :] - means) / sds) < probability
            a, b = np.where(below, middle, a), np.where(below, b, middle)
        out.append((a + b) / 2)
    return out


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (the family-wise correction across groups)."""
    p_values = np.asarray(p_values, dtype=float)
    order = np.argsort(p_values)
    m = len(p_values)
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p_values[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def random_effects(y: np.ndarray, v: np.ndarray, level: float = LEVEL) -> RandomEffects:
    """Stage 2 (module docstring) on group estimates y with sampling variances v."""
    y, v = np.asarray(y, dtype=float), np.asarray(v, dtype=float)
    k = len(y)
    if k < MIN_GROUPS:
        raise TypicalityError(f"Partial pooling needs at least {MIN_GROUPS} groups with a fit, got {k}; lower --min-group-pairs or group by another column.")
    tail = (1 - level) / 2
    tau2 = tau2_paule_mandel(y, v)
    tau2_low, tau2_high = q_profile_interval(y, v, level)
    q = generalized_q(0.0, y, v)
    grid, weight = tau_posterior(y, v)
    mu_given, mu_var_given, mean_given, var_given = conditional_posteriors(y, v, grid)
    mu_low, mu_high = (bound[0] for bound in mixture_quantiles(weight, mu_given[:, None], np.sqrt(mu_var_given)[:, None], (tail, 1 - tail)))
    pooled = weight @ mean_given
    pooled_low, pooled_high = mixture_quantiles(weight, mean_given, np.sqrt(var_given), (tail, 1 - tail))
    # Plain empirical Bayes at tau-hat, kept for the validation's comparison.
    mu_hat, mu_var_hat, mean_hat, var_hat = conditional_posteriors(y, v, np.array([math.sqrt(tau2)]))
    half = norm.ppf(1 - tail) * np.sqrt(var_hat[0])
    # Does group g differ from the population: alpha_g - mu_hat(tau-hat) under alpha_g_true = mu.
    w = 1.0 / (v + tau2)
    total = np.sum(w)
    difference_var = np.clip(v * (1 - 2 * w / total) + 1.0 / total, 1e-300, None)
    z = (y - mu_hat[0]) / np.sqrt(difference_var)
    p_value = 2 * norm.sf(np.abs(z))
    p_holm = holm(p_value)
    return RandomEffects(
        mu=float(weight @ mu_given), mu_low=float(mu_low), mu_high=float(mu_high),
        tau=math.sqrt(tau2), tau_low=math.sqrt(tau2_low), tau_high=math.sqrt(tau2_high),
        tau_dl=math.sqrt(tau2_dersimonian_laird(y, v)),
        q=q, q_df=k - 1, q_p_value=float(chi2.sf(q, k - 1)), i_squared=max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0,
        pooled=pooled, pooled_low=pooled_low, pooled_high=pooled_high,
        plugin_low=mean_hat[0] - half, plugin_high=mean_hat[0] + half,
        z=z, p_value=p_value, p_holm=p_holm,
    )


# ---------------------------------------------------------------------------------------------
# From a pair design to results.json's `groups`


def pool_small_groups(labels: pd.Series, min_pairs: int) -> tuple[pd.Series, list[str]]:
    """Labels with every group of fewer than `min_pairs` pairs replaced by OTHER_GROUP, and the pooled groups' names (largest first)."""
    counts = labels.value_counts()
    small = counts[counts < min_pairs]
    pooled = sorted(small.index, key=lambda name: (-int(small[name]), name))
    return labels.where(~labels.isin(small.index), OTHER_GROUP), [str(name) for name in pooled]


def group_column_values(design: PairDesign, column: str) -> pd.Series:
    """The group of each pair as strings (missing: None), or a TypicalityError naming the columns a design offers."""
    frame = design.frame
    if column not in frame.columns or column not in design.metadata:
        offered = ", ".join(design.metadata) or "none"
        raise TypicalityError(f"--by {column}: the comparisons have no column '{column}'. Per-pair columns of this data: {offered}.")
    values = frame[column]
    return values.astype(str).where(values.notna(), None)


def fit_groups(design: PairDesign, column: str, spec: PairwiseSpec, estimate_id: str, min_pairs: int = DEFAULT_MIN_PAIRS) -> Groups:
    """results.json's `groups`: the headline's fit per value of `column`, partially pooled (module docstring)."""
    if min_pairs < MIN_PAIRS:
        raise TypicalityError(f"--min-group-pairs must be at least {MIN_PAIRS} (the fewest pairs any fit accepts), got {min_pairs}.")
    values = group_column_values(design, column)
    model = PairwiseLogit(design, spec)
    base = {"column": column, "estimate": estimate_id, "min_pairs": int(min_pairs), "method": METHOD, "multiplicity": "holm"}
    if model.reason is not None:
        return Groups(available=False, reason=f"the headline fit cannot run: {model.reason}", **base)
    rows_values = values.loc[model.rows.index]
    missing = int(rows_values.isna().sum())
    kept = rows_values.notna().to_numpy()
    labels, pooled_names = pool_small_groups(rows_values[kept], min_pairs)
    codes, names = pd.factorize(labels, sort=True)
    names = [str(name) for name in names]
    X, y = model.X[kept], model.y[kept]
    fits = grouped_logit(y, X, codes, model.groups[kept])
    extremes = pd.Series(X[:, 0]).groupby(codes).agg(["min", "max"]).reindex(range(len(names)), fill_value=0.0)
    spread = (extremes["max"] - extremes["min"]).to_numpy()
    reasons = [_group_reason(fits, g, spread[g] > 0, lambda g=g: (y[codes == g], X[codes == g])) for g in range(len(names))]
    usable = np.array([reason is None and name != OTHER_GROUP for reason, name in zip(reasons, names)], dtype=bool)
    counts = {"n_groups": int(sum(name != OTHER_GROUP for name in names)), "n_pooled_groups": len(pooled_names), "pooled_groups": pooled_names,
              "n_pairs_without_group": missing}
    if usable.sum() < MIN_GROUPS:
        reason = f"only {int(usable.sum())} groups of '{column}' have at least {min_pairs} pairs and a fit; partial pooling needs {MIN_GROUPS}"
        return Groups(available=False, reason=reason, groups=_group_rows(names, fits, reasons, None, usable), **counts, **base)
    effects = random_effects(fits.alpha[usable], stage2_variance(fits.se[usable], fits.n_clusters[usable], fits.model_variance[usable]))
    return Groups(
        available=True,
        population_alpha=effects.mu, population_ci_low=effects.mu_low, population_ci_high=effects.mu_high,
        tau=effects.tau, tau_ci_low=effects.tau_low, tau_ci_high=effects.tau_high,
        i_squared=effects.i_squared, q_statistic=effects.q, q_df=effects.q_df, q_p_value=effects.q_p_value,
        n_differing=int(np.sum(effects.p_holm < 0.05)),
        groups=_group_rows(names, fits, reasons, effects, usable),
        **counts, **base,
    )


def _group_reason(fits: GroupedFits, g: int, varies: bool, rows) -> str | None:
    """Why group g has no usable alpha, or None; `rows()` gives its (y, X) for the separation check, only when needed."""
    if fits.n_pairs[g] < MIN_PAIRS:
        return f"only {int(fits.n_pairs[g])} pairs"
    if fits.n_clusters[g] < MIN_CLUSTERS:
        return f"only {int(fits.n_clusters[g])} prompts; clustered SEs need at least {MIN_CLUSTERS}"
    if not varies:
        return "the typicality difference is constant"
    suspicious = not fits.converged[g] or fits.max_linear_predictor[g] >= SEPARATED_LINEAR_PREDICTOR or not fits.se[g] > 0
    if suspicious:
        return "perfect separation: alpha would be infinite" if is_separated(*rows()) else "the fit did not converge"
    return None


def _group_rows(names: list[str], fits: GroupedFits, reasons: list[str | None], effects: RandomEffects | None, usable: np.ndarray) -> list[GroupAlpha]:
    rows = []
    position = np.cumsum(usable) - 1  # index of each usable group among the usable ones
    for g, name in enumerate(names):
        fitted = reasons[g] is None
        row = {"name": name, "n_pairs": int(fits.n_pairs[g]), "n_prompts": int(fits.n_clusters[g]), "fitted": fitted, "reason": reasons[g]}
        if fitted:
            row.update(alpha=float(fits.alpha[g]), se=float(fits.se[g]))
        if effects is not None and usable[g]:
            i = position[g]
            row.update(
                pooled_alpha=float(effects.pooled[i]), pooled_ci_low=float(effects.pooled_low[i]), pooled_ci_high=float(effects.pooled_high[i]),
                p_value=float(effects.p_value[i]), p_holm=float(effects.p_holm[i]), differs=bool(effects.p_holm[i] < 0.05),
            )
        rows.append(GroupAlpha(**row))
    return rows
