"""The paper's estimator recorded as results.json rows: `Estimate`, `TypicalityBias` and `fit_estimate`.

The fit itself is `PairwiseLogit` (stats/pairwise_logit.py: rows, columns, checks, inference);
this module turns its results into an `Estimate`. `TypicalityBias(...)` stores its parameters;
`.fit(design)` fits one slice and returns itself with `estimate_` (an `Estimate`), `results_`
(the `PairwiseResults`) and `result_` (the statsmodels results, None when no fit ran).
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

Inference (decided in `PairwiseResults`): the prompt-clustered sandwich SE, and the p-value and
95% CI from Student's t with G - 1 degrees of freedom (G = prompts); `df` records G - 1.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.results import Estimate, estimates_frame  # noqa: F401  (re-exported: the stats stage's estimate row)
from typicality.stats.cluster_bootstrap import cluster_bootstrap
from typicality.stats.numbers import finite_or_none
from typicality.stats.pair_design import TYPICALITY_COLUMNS, available_controls, control_column, control_name
from typicality.stats.pairwise_logit import (  # noqa: F401  (MIN_PAIRS etc. are part of this module's interface)
    FEW_CLUSTERS,
    MIN_CLUSTERS,
    MIN_PAIRS,
    PairwiseLogit,
    PairwiseResults,
    PairwiseSpec,
    t_inference,
)


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
        spec = PairwiseSpec(self.slice, self.typicality, tuple(names), self.cluster)
        self.estimate_, self.results_ = fit_estimate(design, spec, bootstrap=self.bootstrap, seed=self.seed)
        self.result_ = self.results_.statsmodels
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


def fit_estimate(design: PairDesign, spec: PairwiseSpec, *, bootstrap: int = 0, seed: int = 0) -> tuple[Estimate, PairwiseResults]:
    """Fit one spec of a pair design (`PairwiseLogit`) and record it as an `Estimate`; also return the model's results.

    When the data's quality rating is among the fitted controls, the estimate also carries
    `ratio` = alpha / beta_quality with its delta-method CI (stats/ties.py says why).
    """
    results = PairwiseLogit(design, spec).fit()
    estimate = record_estimate(results, quality=design.correctness)
    if estimate.fitted and bootstrap:
        draws = cluster_bootstrap(results, int(bootstrap), seed=seed)
        warnings = list(estimate.warnings)
        if draws["n_failed"]:
            warnings.append(f"{draws['n_failed']} of {bootstrap} bootstrap draws could not be fitted (separated or not converged) and are left out.")
        estimate = estimate.replace(bootstrap=draws, warnings=warnings)
    return estimate, results


def record_estimate(results: PairwiseResults, *, quality: str | None = None, estimator: str = "logit") -> Estimate:
    """The results.json row of one fit: alpha, its inference and the derived figures (or why there are none)."""
    model = results.model
    dropped = [name for name in model.spec.controls if name not in model.controls]  # constant or collinear in the rows (the warnings say which)
    row = dict(slice=model.spec.slice, typicality=model.spec.typicality, controls=list(model.controls), estimator=estimator,
               n_pairs=model.n_pairs, n_clusters=model.n_clusters, warnings=list(results.warnings), dropped_controls=dropped or None)
    if not results.fitted:
        return Estimate(**row, reason=results.reason)
    params, bse = results.params, results.bse
    pvalues, ci = results.pvalues, results.conf_int()
    sd = float(np.sqrt(np.mean(model.delta**2)))
    if not np.all(np.isfinite([params[0], bse[0], ci[0, 0], ci[0, 1], pvalues[0], sd])) or bse[0] <= 0:
        return Estimate(**row, reason=f"the fit gave a non-finite estimate or standard error in slice '{row['slice']}' (a degenerate design)")
    alpha = float(params[0])
    if abs(alpha * sd) > 700:  # exp() would overflow: only a nearly separated design gets here
        return Estimate(**row, reason=f"alpha * SD = {alpha * sd:.3g} in slice '{row['slice']}' is too large for an odds ratio (nearly separated data)")
    coefficients = {
        name: {"coef": finite_or_none(params[index]), "se": finite_or_none(bse[index]), "p_value": finite_or_none(pvalues[index])}
        for index, name in enumerate(results.names[1:], start=1)
    }
    df = int(results.df)
    ratio = alpha_ratio(params, results.cov, 1 + row["controls"].index(quality), df, quality) if quality in row["controls"] else None
    return Estimate(
        **row,
        fitted=True,
        df=df,
        alpha=alpha,
        se=float(bse[0]),
        ci_low=float(ci[0, 0]),
        ci_high=float(ci[0, 1]),
        p_value=float(pvalues[0]),
        sd_delta=sd,
        odds_ratio_per_sd=float(math.exp(alpha * sd)),
        win_prob_change=float(2.0 / (1.0 + math.exp(-alpha * sd)) - 1.0),
        coefficients=coefficients,
        ratio=ratio,
    )


def alpha_ratio(params: np.ndarray, cov: np.ndarray, quality_index: int, df: int, quality: str) -> dict | None:
    """alpha / beta_quality (params[0] / params[quality_index]) with a delta-method t(df) CI; None when beta is 0."""
    alpha, beta = float(params[0]), float(params[quality_index])
    if beta == 0 or not math.isfinite(beta):
        return None
    gradient = np.zeros(len(params))
    gradient[0], gradient[quality_index] = 1 / beta, -alpha / beta**2
    variance = float(gradient @ cov[: len(params), : len(params)] @ gradient)
    if not (math.isfinite(variance) and variance > 0):
        return None
    ratio, se = alpha / beta, math.sqrt(variance)
    pvalues, ci = t_inference(np.array([ratio]), np.array([se]), df)
    return {
        "of": quality,
        "estimate": ratio,
        "se": se,
        "ci_low": float(ci[0, 0]),
        "ci_high": float(ci[0, 1]),
        "beta_quality": beta,
        "meaning": f"alpha / beta_{quality}: the points of {quality} one nat of mean log-likelihood "
                   "is worth to annotators (scale-free: unchanged when ties are dropped)",
    }
