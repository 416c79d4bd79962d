"""The pairwise model, statsmodels-style: `PairwiseLogit(design, spec).fit()` -> `PairwiseResults`.

Every fit of the stats stage goes through here (the estimates, the not-memorized and
negative-control rows, influence, the debiased export, the planner, the comparison), so the
step from a fit's specification to (y, X, groups) and the inference are written once:

- rows: the spec's slice (`pair_design.slice_mask`), then complete cases (a label and every
  predictor); pairs lacking a control are counted in a warning;
- columns: Δtypicality first, then the controls; a control constant in the rows is dropped
  (without an intercept a constant would act as one), then trailing controls collinear with
  the others; the paper's pair construction (`design.construction == "paper"`, pairs oriented
  by dataset order) gets an intercept, last, as the published script fits it;
- checks before fitting: enough pairs and prompts, a varying Δtypicality, and separation
  (stats/separation.py: IRLS on separated data can stop at a large finite coefficient and
  report convergence);
- `offset_alpha`: the typicality term enters as the fixed offset `offset_alpha * Δtypicality`
  instead of as a coefficient (the debiasing model: the controls' effect given alpha); the
  checks above concern alpha's identification and are skipped then.

Inference, decided once (`PairwiseResults`): the prompt-clustered sandwich with statsmodels'
small-sample correction G/(G-1) * (N-1)/(N-K) (`cov_type="cluster"`, `use_correction=True`),
and p-values and 95% CIs from Student's t with df = G - 1 (`use_t=True`, G = prompts), the usual
cluster-robust reference distribution (Cameron & Miller 2015): with few prompts the normal is
too narrow, with many the two agree. The comparison's stacked fit (stats/compare/models.py)
is the one fit that asks for the normal (`use_t=False`), and says why.

`PairwiseRaoKupper` is the tie-aware sibling (stats/ties.py says why), with the same rows and
the same results interface. `refit(rows)` refits either model on a subset (by Newton's method,
pairwise_models.py, from the full fit's coefficients) for the bootstrap, the jackknife and
influence.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.stats import norm
from scipy.stats import t as student_t
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from typicality.domain import PairDesign
from typicality.stats.options import MIN_PAIRS  # noqa: F401  (below this no fit is attempted)
from typicality.stats.pair_design import ALL_PAIRS, TYPICALITY_COLUMNS, control_column, slice_mask
from typicality.stats.pairwise_models import PairwiseFit, fit_logit, fit_rao_kupper
from typicality.stats.separation import is_separated

MIN_CLUSTERS = 5  # a clustered SE from fewer prompts means nothing
FEW_CLUSTERS = 30  # below this the clustered SE is known to run small: warn
MIN_TIES = 10  # below this the Rao-Kupper tie threshold is barely identified
SEPARATED_LINEAR_PREDICTOR = 30.0  # a (re)fit whose linear predictor reaches this has (quasi-)separated data
INTERCEPT = "intercept"
TIE_THRESHOLD = "tie_threshold"


def t_inference(params, se, df: int, use_t: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values and 95% CIs (rows: low, high per coefficient): t(df), or the normal when `use_t` is False."""
    params, se = np.asarray(params, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pvalues = 2.0 * (student_t.sf(np.abs(params / se), df) if use_t else norm.sf(np.abs(params / se)))
    half = (student_t.ppf(0.975, df) if use_t else norm.ppf(0.975)) * se
    return pvalues, np.column_stack([params - half, params + half])


@dataclass(frozen=True)
class PairwiseSpec:
    """What one fit regresses: the label on Δ`typicality` and the controls, over one slice, clustered by prompt."""

    slice: str = ALL_PAIRS
    typicality: str = "mean_logprob"
    controls: tuple[str, ...] = ()
    cluster: str = "prompt_id"

    @classmethod
    def of(cls, estimate) -> "PairwiseSpec":
        """The spec of an estimate (an `Estimate` or its results.json record)."""
        read = estimate.get if isinstance(estimate, dict) else lambda key: getattr(estimate, key)
        return cls(read("slice"), read("typicality"), tuple(read("controls") or ()))


class _PairwiseModel:
    """The rows and columns of a pairwise fit (shared by the logit and Rao-Kupper)."""

    estimator = "logit"

    def __init__(self, design: PairDesign, spec: PairwiseSpec) -> None:
        self.design, self.spec = design, spec
        self.controls = list(spec.controls)
        self.warnings: list[str] = []
        self.reason: str | None = None  # why no fit can run, when one cannot
        self.intercept = design.construction == "paper"
        frame = design.frame[slice_mask(design, spec.slice)]
        columns = [self.typicality_column] + [control_column(name) for name in self.controls]  # complete in Δtypicality even as an offset
        for name, column in zip(self.controls, columns[1:]):
            lacking = int(frame[column].isna().sum())
            if lacking:
                self.warnings.append(f"{lacking} of {len(frame)} pairs lack {name} and are left out of this fit.")
        self.rows = frame[frame[columns].notna().all(axis=1) & frame["label"].notna()]
        self.y = self.rows["label"].to_numpy(dtype=float)
        self.groups, prompts = pd.factorize(self.rows[spec.cluster].astype(str))
        self.prompts = np.asarray(prompts, dtype=object)  # the prompt id of each group index
        self.n_pairs = int(len(self.y))
        self.n_clusters = int(self.groups.max() + 1) if len(self.groups) else 0
        self.offset_alpha: float | None = None  # PairwiseLogit: the typicality term as a fixed offset
        self.offset = None

    @property
    def typicality_column(self) -> str:
        return TYPICALITY_COLUMNS[self.spec.typicality]

    @property
    def delta(self) -> np.ndarray:
        """Δtypicality over the fitted rows."""
        return self.rows[self.typicality_column].to_numpy(dtype=float)

    @property
    def regressors(self) -> list[str]:
        """The design columns that get a coefficient: Δtypicality (unless it is an offset), then the controls."""
        typicality = [] if self.offset_alpha is not None else [self.typicality_column]
        return typicality + [control_column(name) for name in self.controls]

    @property
    def names(self) -> list[str]:
        """The coefficients' names, in X's order."""
        typicality = [] if self.offset_alpha is not None else [self.spec.typicality]
        return typicality + self.controls + ([INTERCEPT] if self.intercept else [])

    def _matrix(self) -> np.ndarray:
        """X: the regressors over the fitted rows, and the paper construction's intercept last (the one place X is built)."""
        X = self.rows[self.regressors].to_numpy(dtype=float)
        return np.column_stack([X, np.ones(len(X))]) if self.intercept else X

    def _results(self, fit: PairwiseFit, use_t: bool = True, extra: tuple[str, ...] = ()) -> "PairwiseResults":
        return PairwiseResults(
            model=self, params=np.asarray(fit.params, dtype=float), cov=np.asarray(fit.cov, dtype=float),
            names=tuple(self.names) + extra, df=max(self.n_clusters - 1, 1), use_t=use_t, converged=bool(fit.converged),
        )


class PairwiseLogit(_PairwiseModel):
    """The paper's estimator: a binomial logit of the label on Δtypicality (+ controls), no intercept but the paper construction's."""

    def __init__(self, design: PairDesign, spec: PairwiseSpec, *, offset_alpha: float | None = None) -> None:
        super().__init__(design, spec)
        self.offset_alpha = offset_alpha
        self._drop_constant_controls()
        if offset_alpha is None:
            self.reason = self._unfittable()
        if self.reason is None:
            self._drop_collinear_controls()
        if self.reason is None and offset_alpha is None:
            self.reason = self._separated()
        if self.reason is None and offset_alpha is None and self.n_clusters < FEW_CLUSTERS:
            self.warnings.append(f"Only {self.n_clusters} prompts: clustered standard errors are unreliable with fewer than {FEW_CLUSTERS}.")
        if offset_alpha is not None and offset_alpha != 0:
            self.offset = offset_alpha * self.delta

    @classmethod
    def from_arrays(cls, y: np.ndarray, X: np.ndarray, groups: np.ndarray, names: list[str]) -> "PairwiseLogit":
        """A model over a design matrix built elsewhere (the comparison's stacked fit); no checks, no intercept added."""
        model = cls.__new__(cls)
        model.design, model.spec, model.controls, model.warnings, model.reason = None, None, [], [], None
        model.offset_alpha, model.offset, model.intercept, model.rows = None, None, False, None
        model.y, model.X, model._names = np.asarray(y, dtype=float), np.asarray(X, dtype=float), list(names)
        model.groups, prompts = pd.factorize(pd.Series(np.asarray(groups)).astype(str))
        model.prompts = np.asarray(prompts, dtype=object)
        model.n_pairs, model.n_clusters = int(len(model.y)), int(model.groups.max() + 1) if len(model.groups) else 0
        return model

    @property
    def names(self) -> list[str]:
        return self._names if getattr(self, "_names", None) is not None else super().names

    def _drop_constant_controls(self) -> None:
        """A control that never varies in the rows (Δ correctness in the equal-correctness slice) carries no information."""
        for name in list(self.controls):
            values = self.rows[control_column(name)].to_numpy(dtype=float)
            if len(values) and np.all(values == values[0]):
                self.warnings.append(f"Control {name} is constant ({values[0]:g}) in slice '{self.spec.slice}'; fitted without it.")
                self.controls.remove(name)

    def _unfittable(self) -> str | None:
        """Why no fit should be attempted (too few pairs or prompts, a constant typicality), or None."""
        where = f"slice '{self.spec.slice}'"
        if self.n_pairs < MIN_PAIRS:
            return f"only {self.n_pairs} pairs in {where}; at least {MIN_PAIRS} are needed for a fit"
        if self.n_clusters < MIN_CLUSTERS:
            return f"only {self.n_clusters} prompts in {where}; clustered SEs need at least {MIN_CLUSTERS}"
        delta = self.delta
        if np.all(delta == delta[0]):
            return f"the typicality difference {self.typicality_column} is constant ({delta[0]:g}) in {where}, so alpha is not identified"
        return None

    def _drop_collinear_controls(self) -> None:
        intercept, self.intercept = self.intercept, False
        X = self._matrix()
        while X.shape[1] and np.linalg.matrix_rank(X) < X.shape[1] and self.controls:
            dropped = self.controls.pop()
            self.warnings.append(f"Control {dropped} is collinear with the other predictors in slice '{self.spec.slice}'; fitted without it.")
            X = X[:, :-1]
        self.intercept = intercept
        if intercept and len(X):
            X = self._matrix()
            if np.linalg.matrix_rank(X) < X.shape[1]:
                self.reason = f"the intercept is collinear with {', '.join(self.regressors)} in slice '{self.spec.slice}'"

    def _separated(self) -> str | None:
        if is_separated(self.y, self.X):
            columns = ", ".join(self.regressors)
            return (
                f"perfect separation in slice '{self.spec.slice}': {columns} predict every label exactly "
                "(or every label where they are non-zero), so the likelihood has no maximum and alpha would be infinite; more pairs are needed"
            )
        return None

    @property
    def X(self) -> np.ndarray:
        if "X" not in self.__dict__:
            self.__dict__["X"] = self._matrix()
        return self.__dict__["X"]

    @X.setter
    def X(self, value: np.ndarray) -> None:
        self.__dict__["X"] = value

    def glm(self):
        """The statsmodels GLM of this model (the one place one is built)."""
        return sm.GLM(self.y, self.X, family=sm.families.Binomial(), offset=self.offset)

    def fit(self, *, use_t: bool = True) -> "PairwiseResults":
        """The clustered fit; a model that cannot be fitted returns results with `fitted` False and the `reason`."""
        if self.reason is not None:
            return PairwiseResults.not_fitted(self, self.reason)
        warnings_ = list(self.warnings)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # statsmodels' own inference then agrees with ours (df_correction: t with G - 1 df; a test checks it).
            result = self.glm().fit(cov_type="cluster", cov_kwds={"groups": self.groups, "use_correction": True, "df_correction": True}, use_t=use_t)
        params = np.asarray(result.params, dtype=float)
        converged = not any(issubclass(w.category, (PerfectSeparationWarning, ConvergenceWarning)) for w in caught) and bool(result.converged)
        if not converged:
            warnings_.append("The fit did not converge; treat these numbers with caution.")
        elif np.isfinite(params).all() and len(params) and np.abs(self.X @ params).max() > SEPARATED_LINEAR_PREDICTOR:
            warnings_.append("Some pairs are predicted with probability near 0 or 1; the estimate may be unstable.")
        return PairwiseResults(
            model=self, params=params, cov=np.asarray(result.cov_params(), dtype=float), names=tuple(self.names),
            df=max(self.n_clusters - 1, 1), use_t=use_t, converged=converged, warnings=tuple(warnings_), statsmodels=result,
        )

    def refit(self, rows: np.ndarray, *, columns: list[int] | None = None, start: np.ndarray | None = None) -> PairwiseFit | None:
        """The logit on `rows` (indices into the fitted rows, repeats allowed), optionally a subset of X's `columns`,
        by Newton's method; None when it does not converge or the resample is (quasi-)separated."""
        rows = np.asarray(rows)
        X = self.X[rows] if columns is None else self.X[rows][:, columns]
        if self.offset is not None:
            raise NotImplementedError("refit of an offset model")
        groups = self.groups[rows]
        fit = fit_logit(self.y[rows], X, groups, start=start)
        if not (fit.converged and np.isfinite(fit.params).all()) or (len(X) and np.abs(X @ fit.params).max() >= SEPARATED_LINEAR_PREDICTOR):
            return None
        return fit

    def cluster_members(self) -> list[np.ndarray]:
        """The fitted rows of each prompt, in prompt order (for resampling prompts)."""
        return [np.flatnonzero(self.groups == g) for g in range(self.n_clusters)]


class PairwiseRaoKupper(_PairwiseModel):
    """The tie-aware sibling (Rao & Kupper 1967, logistic form): ties kept as ties, a threshold tau last among the params."""

    estimator = "rao-kupper"

    def __init__(self, design: PairDesign, spec: PairwiseSpec) -> None:
        super().__init__(design, spec)
        self.X = self._matrix()
        n_ties = int((self.y == 0.5).sum())
        self.n_ties = n_ties
        where = f"slice '{spec.slice}'"
        if n_ties < MIN_TIES:
            self.reason = f"only {n_ties} tied pairs in {where}; the tie-aware fit needs at least {MIN_TIES} (the tie-dropping fit loses little)"
        elif self.n_pairs < MIN_PAIRS or self.n_clusters < MIN_CLUSTERS:
            self.reason = f"only {self.n_pairs} pairs in {self.n_clusters} prompts in {where}"
        elif np.linalg.matrix_rank(self.X) < self.X.shape[1]:
            columns = self.regressors + ([INTERCEPT] if self.intercept else [])
            self.reason = f"the predictors {', '.join(columns)} are collinear in {where}"

    def fit(self) -> "PairwiseResults":
        if self.reason is not None:
            return PairwiseResults.not_fitted(self, self.reason)
        fit = fit_rao_kupper(self.y, self.X, self.groups)
        results = self._results(fit, extra=(TIE_THRESHOLD,))
        if not (results.converged and np.isfinite(results.params).all() and np.isfinite(results.bse).all() and results.bse[0] > 0):
            return PairwiseResults.not_fitted(self, f"the tie-aware fit did not converge in slice '{self.spec.slice}'")
        return results

    def refit(self, rows: np.ndarray, **_) -> PairwiseFit | None:
        rows = np.asarray(rows)
        fit = fit_rao_kupper(self.y[rows], self.X[rows], self.groups[rows])
        return fit if fit.converged and np.isfinite(fit.params).all() else None


@dataclass(frozen=True)
class PairwiseResults:
    """One fit: coefficients (`names` in X's order, alpha first), the clustered covariance, df = G - 1 and the t-or-normal choice."""

    model: _PairwiseModel
    params: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cov: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    names: tuple[str, ...] = ()
    df: int = 1
    use_t: bool = True
    converged: bool = False
    warnings: tuple[str, ...] = ()
    statsmodels: object | None = None  # the statsmodels results, when statsmodels fitted it
    reason: str | None = None  # why no fit ran

    @classmethod
    def not_fitted(cls, model: _PairwiseModel, reason: str) -> "PairwiseResults":
        return cls(model=model, warnings=tuple(model.warnings), reason=reason, df=max(model.n_clusters - 1, 1))

    @property
    def fitted(self) -> bool:
        return self.reason is None

    @property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None)) if self.statsmodels is None else np.asarray(self.statsmodels.bse, dtype=float)

    @property
    def pvalues(self) -> np.ndarray:
        return t_inference(self.params, self.bse, self.df, self.use_t)[0]

    def conf_int(self) -> np.ndarray:
        """95% intervals, one row (low, high) per coefficient, from t(df) or the normal as `use_t` says."""
        return t_inference(self.params, self.bse, self.df, self.use_t)[1]

    @property
    def alpha(self) -> float:
        return float(self.params[0])

    @property
    def n_pairs(self) -> int:
        return self.model.n_pairs

    @property
    def n_clusters(self) -> int:
        return self.model.n_clusters

    def coef(self, name: str) -> float:
        return float(self.params[self.names.index(name)])

    def wald(self, contrast: np.ndarray) -> dict:
        """The linear combination contrast @ params with its SE, 95% CI and two-sided p, by the same reference."""
        contrast = np.asarray(contrast, dtype=float)
        effect, se = float(contrast @ self.params), float(np.sqrt(contrast @ self.cov @ contrast))
        pvalues, ci = t_inference(np.array([effect]), np.array([se]), self.df, self.use_t)
        return {"effect": effect, "se": se, "ci_low": float(ci[0, 0]), "ci_high": float(ci[0, 1]), "statistic": effect / se, "p_value": float(pvalues[0])}

    def refit(self, rows: np.ndarray, *, columns: list[int] | None = None) -> PairwiseFit | None:
        """The same model on a subset or resample of its rows, started from these coefficients."""
        start = None if columns is not None else self.params
        return self.model.refit(rows, columns=columns, start=start)
