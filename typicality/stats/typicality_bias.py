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
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from typicality.domain import PairDesign
from typicality.errors import TypicalityError
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
                lines.append(
                    f"  cluster bootstrap ({b['n_draws']} draws, {b['n_failed']} failed): SE {b['se']:.4f}; 95% CI {b['ci_low']:.4f} to {b['ci_high']:.4f}"
                )
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


def fit_estimate(design: PairDesign, spec: PairwiseSpec, *, bootstrap: int = 0, seed: int = 0) -> tuple[Estimate, PairwiseResults]:
    """Fit one spec of a pair design (`PairwiseLogit`) and record it as an `Estimate`; also return the model's results.

    When the data's quality rating is among the fitted controls, the estimate also carries
    `ratio` = alpha / beta_quality with its delta-method CI (stats/ties.py says why).
    """
    results = PairwiseLogit(design, spec).fit()
    estimate = record_estimate(results, quality=design.correctness)
    if estimate.fitted and bootstrap:
        estimate.bootstrap = cluster_bootstrap(results, int(bootstrap), seed=seed)
        if estimate.bootstrap["n_failed"]:
            estimate.warnings.append(
                f"{estimate.bootstrap['n_failed']} of {bootstrap} bootstrap draws could not be fitted (separated or not converged) and are left out."
            )
    return estimate, results


def record_estimate(results: PairwiseResults, *, quality: str | None = None, estimator: str = "logit") -> Estimate:
    """The results.json row of one fit: alpha, its inference and the derived figures (or why there are none)."""
    model = results.model
    estimate = Estimate(slice=model.spec.slice, typicality=model.spec.typicality, controls=list(model.controls), estimator=estimator)
    estimate.n_pairs, estimate.n_clusters = model.n_pairs, model.n_clusters
    estimate.warnings = list(results.warnings)
    if not results.fitted:
        estimate.reason = results.reason
        return estimate
    params, bse = results.params, results.bse
    pvalues, ci = results.pvalues, results.conf_int()
    sd = float(np.sqrt(np.mean(model.delta**2)))
    if not np.all(np.isfinite([params[0], bse[0], ci[0, 0], ci[0, 1], pvalues[0], sd])) or bse[0] <= 0:
        estimate.reason = f"the fit gave a non-finite estimate or standard error in slice '{estimate.slice}' (a degenerate design)"
        return estimate
    alpha = float(params[0])
    if abs(alpha * sd) > 700:  # exp() would overflow: only a nearly separated design gets here
        estimate.reason = f"alpha * SD = {alpha * sd:.3g} in slice '{estimate.slice}' is too large for an odds ratio (nearly separated data)"
        return estimate
    estimate.fitted = True
    estimate.df = int(results.df)
    estimate.alpha, estimate.se = alpha, float(bse[0])
    estimate.ci_low, estimate.ci_high = float(ci[0, 0]), float(ci[0, 1])
    estimate.p_value = float(pvalues[0])
    estimate.sd_delta = sd
    estimate.odds_ratio_per_sd = float(math.exp(alpha * sd))
    estimate.win_prob_change = float(2.0 / (1.0 + math.exp(-alpha * sd)) - 1.0)
    for index, name in enumerate(results.names[1:], start=1):
        estimate.coefficients[name] = {"coef": finite_or_none(params[index]), "se": finite_or_none(bse[index]), "p_value": finite_or_none(pvalues[index])}
    if quality in estimate.controls:
        estimate.ratio = alpha_ratio(params, results.cov, 1 + estimate.controls.index(quality), estimate.df, quality)
    return estimate


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
