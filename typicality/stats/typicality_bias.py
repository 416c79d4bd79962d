"""The paper's estimator: a no-intercept binomial GLM of the label on delta-typicality (+ controls), SEs clustered by prompt.

`TypicalityBias(...)` stores its parameters; `.fit(design)` fits one slice and returns itself
with `estimate_` (an `Estimate`) and `result_` (the statsmodels results, None when no fit ran).
A fit that cannot run (too few pairs or prompts, a constant typicality difference, perfect
separation) still yields an `Estimate`, with `fitted=False`, `reason`, and no numbers.

Derived figures, with SD = root mean square of delta-typicality over the fitted pairs (the SD
of the symmetrised differences, where a pair and its flip make the mean exactly 0, so it does
not depend on orientation):
- `odds_ratio_per_sd` = exp(alpha * SD);
- `win_prob_change` = sigmoid(alpha * SD) - sigmoid(-alpha * SD) = 2 * sigmoid(alpha * SD) - 1:
  the change in the probability that a response is preferred when its typicality difference
  moves from -1 SD to +1 SD with every control difference held at 0 (equal length, equal
  correctness). The paper's table follows this formula (OR 1.42 -> +0.17, OR 1.80 -> +0.28).

Inference: the SE is the prompt-clustered sandwich (statsmodels' small-sample correction), and
the p-value and 95% CI come from Student's t with G - 1 degrees of freedom (G = prompts), the
usual cluster-robust reference distribution (Cameron & Miller 2015): with few prompts the
normal is too narrow, with many the two agree. `df` records G - 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.stats import t as student_t
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.stats.numbers import finite_or_none
from typicality.stats.cluster_bootstrap import SEPARATED_LINEAR_PREDICTOR, cluster_bootstrap
from typicality.stats.pair_design import TYPICALITY_COLUMNS, available_controls, control_column, control_name, select_slice
from typicality.stats.separation import is_separated

MIN_PAIRS = 10  # below this no fit is attempted
MIN_CLUSTERS = 5  # a clustered SE from fewer prompts means nothing
FEW_CLUSTERS = 30  # below this the clustered SE is known to run small: warn


@dataclass
class Estimate:
    """One fit of the typicality coefficient alpha on one slice, with its controls; numbers are None when not fitted."""

    slice: str
    typicality: str
    controls: list[str]
    fitted: bool = False
    reason: str | None = None  # why no fit ran, when fitted is False
    alpha: float | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    odds_ratio_per_sd: float | None = None
    win_prob_change: float | None = None
    sd_delta: float | None = None
    n_pairs: int = 0
    n_clusters: int = 0
    coefficients: dict[str, dict] = field(default_factory=dict)  # each control: coef, se, p_value
    bootstrap: dict | None = None  # cluster bootstrap: n_draws, n_failed, se, ci_low, ci_high
    warnings: list[str] = field(default_factory=list)
    estimator: str = "logit"  # "logit" (the paper's, ties dropped) or another (stats/ties.py: "rao-kupper")
    df: int | None = None  # degrees of freedom of the t reference for p and CI: prompts - 1
    ratio: dict | None = None  # alpha / beta_<quality rating> with a delta-method CI, when the fit controls for one
    p_holm: float | None = None  # Holm-adjusted p across the robustness set (None for the pre-specified headline)
    robustness: str | None = None  # what a robustness row checks, when it is not one of the robustness set's standard fits

    @property
    def id(self) -> str:
        base = f"{self.slice}|{self.typicality}|{'+'.join(self.controls) or 'none'}"
        return base if self.estimator == "logit" else f"{base}|{self.estimator}"

    def to_dict(self) -> dict:
        return {"id": self.id, **asdict(self)}

    def summary(self) -> str:
        head = f"slice={self.slice}, typicality={self.typicality}, controls=[{', '.join(self.controls)}]"
        lines = [f"Typicality bias: {head}"]
        if not self.fitted:
            lines.append(f"  not fitted: {self.reason}")
        else:
            lines.append(f"  alpha = {self.alpha:.4f} (SE {self.se:.4f}; 95% CI {self.ci_low:.4f} to {self.ci_high:.4f}); p = {self.p_value:.3g}")
            lines.append(f"  odds ratio per SD = {self.odds_ratio_per_sd:.3f}; win probability -1 SD -> +1 SD: {self.win_prob_change:+.3f}")
            for name, coefficient in self.coefficients.items():
                lines.append(f"  control {name}: {coefficient['coef']:.4f} (SE {coefficient['se']:.4f})")
            if self.bootstrap and self.bootstrap.get("se") is not None:
                b = self.bootstrap
                lines.append(f"  cluster bootstrap ({b['n_draws']} draws, {b['n_failed']} failed): SE {b['se']:.4f}; 95% CI {b['ci_low']:.4f} to {b['ci_high']:.4f}")
        lines.append(f"  pairs = {self.n_pairs}, clusters = {self.n_clusters}")
        lines.extend(f"  warning: {message}" for message in self.warnings)
        return "\n".join(lines)


class TypicalityBias:
    """The paper's estimator in the scikit-learn spirit: parameters in the constructor, `fit(design)` returns self."""

    def __init__(
        self,
        typicality: str = "mean_logprob",
        controls: list[str] | tuple[str, ...] = (),
        cluster: str = "prompt_id",
        bootstrap: int = 0,
        seed: int = 0,
        slice: str = "all",
    ) -> None:
        self.typicality = typicality
        self.controls = controls
        self.cluster = cluster
        self.bootstrap = bootstrap
        self.seed = seed
        self.slice = slice

    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in ("typicality", "controls", "cluster", "bootstrap", "seed", "slice")}

    def fit(self, design: PairDesign) -> "TypicalityBias":
        """Fit the slice `self.slice` of a pair design (from `build_pairs`)."""
        if self.typicality not in TYPICALITY_COLUMNS:
            raise TypicalityError(f"typicality must be one of {', '.join(TYPICALITY_COLUMNS)}, got '{self.typicality}'.")
        if not isinstance(design, PairDesign):
            raise TypicalityError("TypicalityBias.fit takes the PairDesign that build_pairs returns (or typicality.audit_folder.load_pairs reads).")
        if self.cluster not in design.frame.columns:
            raise TypicalityError(f"The pair design has no cluster column '{self.cluster}'.")
        names = [control_name(name) for name in self.controls]
        unknown = [name for name in names if control_column(name) not in design.frame.columns]
        if unknown:
            raise TypicalityError(f"Unknown control(s) {', '.join(unknown)}; this data offers: {', '.join(available_controls(design))}.")
        if len(set(names)) != len(names):
            raise TypicalityError(f"A control is named twice in {list(self.controls)}.")
        pairs = select_slice(design, self.slice)
        self.estimate_, self.result_ = fit_logit(
            pairs, self.slice, self.typicality, names, self.cluster, self.bootstrap, self.seed,
            quality=design.correctness, intercept=design.construction == "paper",
        )
        self.alpha_ = self.estimate_.alpha
        self.se_ = self.estimate_.se
        self.n_pairs_ = self.estimate_.n_pairs
        self.n_clusters_ = self.estimate_.n_clusters
        return self

    def summary(self) -> str:
        return self._fitted().summary()

    def to_dict(self) -> dict:
        return self._fitted().to_dict()

    def to_frame(self) -> pd.DataFrame:
        return estimates_frame([self._fitted()])

    def _fitted(self) -> Estimate:
        if not hasattr(self, "estimate_"):
            raise TypicalityError("This TypicalityBias is not fitted yet: call .fit(design) first.")
        return self.estimate_


def estimates_frame(estimates: list[Estimate]) -> pd.DataFrame:
    """A tidy table of estimates: one row each, controls and warnings joined into strings."""
    rows = []
    for estimate in estimates:
        row = estimate.to_dict()
        row["controls"] = ", ".join(row["controls"])
        row["warnings"] = "; ".join(row["warnings"])
        row.pop("coefficients")
        bootstrap = row.pop("bootstrap") or {}
        row["bootstrap_se"] = bootstrap.get("se")
        rows.append(row)
    return pd.DataFrame(rows)


def fit_logit(
    pairs: pd.DataFrame,
    slice_name: str,
    typicality: str,
    controls: list[str],
    cluster: str = "prompt_id",
    bootstrap: int = 0,
    seed: int = 0,
    *,
    quality: str | None = None,
    intercept: bool = False,
):
    """Fit one no-intercept clustered logit; return (Estimate, statsmodels results or None).

    `quality`: the data's quality rating; when it is among the controls, the estimate also
    carries `ratio` = alpha / beta_quality with its delta-method CI (stats/ties.py says why).
    `intercept`: add a constant (last column, reported as coefficient "intercept"), as the
    paper's script does for pairs oriented by dataset order (stats/paper_pairs.py).
    """
    estimate = Estimate(slice=slice_name, typicality=typicality, controls=list(controls))
    columns = [TYPICALITY_COLUMNS[typicality]] + [control_column(name) for name in controls]
    pairs = _complete_pairs(pairs, estimate, columns)
    columns = _drop_constant_controls(pairs, estimate, columns)
    y = pairs["label"].to_numpy(dtype=float)
    X = pairs[columns].to_numpy(dtype=float)
    groups = pd.factorize(pairs[cluster].astype(str))[0]
    estimate.n_pairs = int(len(y))
    estimate.n_clusters = int(groups.max() + 1) if len(groups) else 0

    reason = _unfittable(estimate, X, columns)
    if reason:
        return _not_fitted(estimate, reason)
    while np.linalg.matrix_rank(X) < X.shape[1]:
        dropped = estimate.controls.pop()
        estimate.warnings.append(f"Control {dropped} is collinear with the other predictors in slice '{slice_name}'; fitted without it.")
        columns.pop()
        X = X[:, :-1]
    if intercept:
        X = np.column_stack([X, np.ones(len(X))])
        if np.linalg.matrix_rank(X) < X.shape[1]:
            return _not_fitted(estimate, f"the intercept is collinear with {', '.join(columns)} in slice '{slice_name}'")
    # Checked exactly before fitting: IRLS on separated data can stop at a large finite
    # coefficient and report convergence (quasi-complete separation).
    if is_separated(y, X):
        return _not_fitted(
            estimate,
            f"perfect separation in slice '{slice_name}': {', '.join(columns)} predict every label exactly "
            "(or every label where they are non-zero), so the likelihood has no maximum and alpha would be infinite; more pairs are needed",
        )
    if estimate.n_clusters < FEW_CLUSTERS:
        estimate.warnings.append(f"Only {estimate.n_clusters} prompts: clustered standard errors are unreliable with fewer than {FEW_CLUSTERS}.")

    result = _clustered_glm(y, X, groups, estimate)
    reason = _record_fit(estimate, result, X[:, 0])
    if reason:
        return _not_fitted(estimate, reason)
    if quality in estimate.controls:
        from typicality.stats.ties import alpha_ratio  # ties.py builds on this module

        estimate.ratio = alpha_ratio(np.asarray(result.params, dtype=float), np.asarray(result.cov_params(), dtype=float), 1 + estimate.controls.index(quality), estimate.df, quality)
    if bootstrap:
        estimate.bootstrap = cluster_bootstrap(y, X, groups, int(bootstrap), seed=seed, start=np.asarray(result.params, dtype=float))
        if estimate.bootstrap["n_failed"]:
            estimate.warnings.append(f"{estimate.bootstrap['n_failed']} of {bootstrap} bootstrap draws could not be fitted (separated or not converged) and are left out.")
    return estimate, result


def _complete_pairs(pairs: pd.DataFrame, estimate: Estimate, columns: list[str]) -> pd.DataFrame:
    """The pairs with a label and every predictor; the others are counted in a warning."""
    for name, column in zip(estimate.controls, columns[1:]):
        lacking = int(pairs[column].isna().sum())
        if lacking:
            estimate.warnings.append(f"{lacking} of {len(pairs)} pairs lack {name} and are left out of this fit.")
    return pairs[pairs[columns].notna().all(axis=1) & pairs["label"].notna()]


def _drop_constant_controls(pairs: pd.DataFrame, estimate: Estimate, columns: list[str]) -> list[str]:
    """A control that never varies in this slice (delta correctness in the equal-correctness
    slice) carries no information; without an intercept a constant would even act as one."""
    columns = list(columns)
    for name, column in list(zip(list(estimate.controls), columns[1:])):
        values = pairs[column].to_numpy(dtype=float)
        if len(values) and np.all(values == values[0]):
            estimate.warnings.append(f"Control {name} is constant ({values[0]:g}) in slice '{estimate.slice}'; fitted without it.")
            estimate.controls.remove(name)
            columns.remove(column)
    return columns


def _unfittable(estimate: Estimate, X: np.ndarray, columns: list[str]) -> str | None:
    """Why no fit should be attempted (too few pairs or prompts, a constant typicality), or None."""
    delta = X[:, 0] if len(X) else np.zeros(0)
    if estimate.n_pairs < MIN_PAIRS:
        return f"only {estimate.n_pairs} pairs in slice '{estimate.slice}'; at least {MIN_PAIRS} are needed for a fit"
    if estimate.n_clusters < MIN_CLUSTERS:
        return f"only {estimate.n_clusters} prompts in slice '{estimate.slice}'; clustered SEs need at least {MIN_CLUSTERS}"
    if np.all(delta == delta[0]):
        return f"the typicality difference {columns[0]} is constant ({delta[0]:g}) in slice '{estimate.slice}', so alpha is not identified"
    return None


def _clustered_glm(y: np.ndarray, X: np.ndarray, groups: np.ndarray, estimate: Estimate):
    """The paper's fit: binomial GLM, logit link, no intercept, sandwich SEs clustered by prompt."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sm.GLM(y, X, family=sm.families.Binomial()).fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True})
    params = np.asarray(result.params, dtype=float)
    if any(issubclass(w.category, (PerfectSeparationWarning, ConvergenceWarning)) for w in caught) or not result.converged:
        estimate.warnings.append("The fit did not converge; treat these numbers with caution.")
    elif np.isfinite(params).all() and np.abs(X @ params).max() > SEPARATED_LINEAR_PREDICTOR:
        estimate.warnings.append("Some pairs are predicted with probability near 0 or 1; the estimate may be unstable.")
    return result


def _record_fit(estimate: Estimate, result, delta: np.ndarray) -> str | None:
    """Copy alpha, its inference and the derived figures into the estimate; the reason when they are unusable."""
    params, bse = (np.asarray(x, dtype=float) for x in (result.params, result.bse))
    df = max(estimate.n_clusters - 1, 1)
    pvalues, ci = t_inference(params, bse, df)
    sd = float(np.sqrt(np.mean(delta**2)))
    if not np.all(np.isfinite([params[0], bse[0], ci[0, 0], ci[0, 1], pvalues[0], sd])) or bse[0] <= 0:
        return f"the fit gave a non-finite estimate or standard error in slice '{estimate.slice}' (a degenerate design)"
    alpha = float(params[0])
    if abs(alpha * sd) > 700:  # exp() would overflow: only a nearly separated design gets here
        return f"alpha * SD = {alpha * sd:.3g} in slice '{estimate.slice}' is too large for an odds ratio (nearly separated data)"
    estimate.fitted = True
    estimate.df = int(df)
    estimate.alpha, estimate.se = alpha, float(bse[0])
    estimate.ci_low, estimate.ci_high = float(ci[0, 0]), float(ci[0, 1])
    estimate.p_value = float(pvalues[0])
    estimate.sd_delta = sd
    estimate.odds_ratio_per_sd = float(math.exp(alpha * sd))
    estimate.win_prob_change = float(2.0 / (1.0 + math.exp(-alpha * sd)) - 1.0)
    for index, name in enumerate(estimate.controls, start=1):
        estimate.coefficients[name] = {"coef": finite_or_none(params[index]), "se": finite_or_none(bse[index]), "p_value": finite_or_none(pvalues[index])}
    if len(params) == len(estimate.controls) + 2:  # the paper construction's intercept, last
        estimate.coefficients["intercept"] = {"coef": finite_or_none(params[-1]), "se": finite_or_none(bse[-1]), "p_value": finite_or_none(pvalues[-1])}
    return None


def t_inference(params: np.ndarray, se: np.ndarray, df: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values and 95% CIs (rows: low, high per coefficient) from t(df)."""
    params, se = np.asarray(params, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pvalues = 2.0 * student_t.sf(np.abs(params / se), df)
    half = student_t.ppf(0.975, df) * se
    return pvalues, np.column_stack([params - half, params + half])


def _not_fitted(estimate: Estimate, reason: str):
    estimate.fitted = False
    estimate.reason = reason
    return estimate, None
