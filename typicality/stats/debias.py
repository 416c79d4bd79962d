"""Acting on an audit: the per-pair numbers that remove the fitted typicality term from a preference dataset.

The annotator model (docs/method.md) is Bradley-Terry with a typicality term:

    P(first preferred over second) = sigmoid(d'beta + alpha * dl)

with `dl` the first response's typicality minus the second's and `d` the differences in the
controls (the quality rating, length, ...). Everything below is a function of that one model,
with `alpha` chosen by `choose_alpha` (the audit's quality-controlled headline by default):

- `margin = -alpha * dl`, for the margin loss `-logsigmoid(r_first - r_second - margin)` that
  TRL's RewardTrainer computes when a dataset has a `margin` column: a reward model trained with
  it fits `r_first - r_second = d'beta` (the typicality term rides in the loss as an offset and is
  not learned). The sign and scale are derived in docs/debiasing.md.
- reweighing weights (Kamiran & Calders 2012) `w = P(y | controls) / P(y | controls, dl)` for the
  observed outcome y (first preferred): in the weighted data the outcome is independent of
  typicality given the controls; their mean is 1 in expectation.
- the fitted probability that the first response wins with (`sigmoid(d'beta + alpha dl)`) and
  without (`sigmoid(d'beta)`) the typicality term, and `flip` where the two favour different
  responses. Without controls (pairwise data) the second is exactly 1/2: the model then favours
  neither response once typicality is removed, and no flip is defined.

`beta` is refitted with the typicality term held at `alpha * dl` (a logit with offset), so it is
the controls' effect given that alpha; when alpha is the fit's own estimate and the controls are
the fit's, it equals that fit's coefficients. `P(y | controls)` is a logit on the controls alone
(no typicality), the conditional that reweighing targets. When the data has a quality rating it
is always among the controls: the debiased preference is the quality difference, not a coin.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.stats.pair_design import EQUAL_CORRECTNESS, TYPICALITY_COLUMNS, control_column

ALPHA_CHOICES = ("estimate", "ci-low", "ci-high")


@dataclass
class AlphaChoice:
    """The alpha whose term is removed, the fit it comes from, and why that one."""

    estimate: str  # the results.json estimate id
    alpha: float
    how: str  # "estimate", "ci-low", "ci-high" or "value"
    reason: str  # one sentence for the dataset card and the report
    typicality: str
    controls: list[str]  # the estimate's controls
    estimate_alpha: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class DebiasModel:
    """The Bradley-Terry model the export evaluates: alpha fixed, the controls' coefficients refitted."""

    alpha: float
    typicality_column: str
    controls: list[str]  # control names (length, correctness, ...)
    beta: dict[str, float]  # controls' coefficients with alpha * dl as an offset
    gamma: dict[str, float]  # controls' coefficients without any typicality term
    n_pairs_fitted: int
    warnings: list[str] = field(default_factory=list)

    @property
    def control_columns(self) -> list[str]:
        return [control_column(name) for name in self.controls]


def is_quality_controlled(estimate: dict, correctness: str | None) -> bool:
    """True when the fit holds quality fixed: the equal-correctness slice, or correctness among its controls."""
    if not correctness:
        return True
    return estimate.get("slice") == EQUAL_CORRECTNESS or correctness in (estimate.get("controls") or [])


def choose_alpha(results: dict, *, alpha: str | float | None = None, estimate: str | None = None) -> AlphaChoice:
    """The alpha to remove: the headline fit's (quality-controlled when the data rates quality), or the one asked for.

    `estimate`: an estimate id of results.json instead of the headline. `alpha`: None or
    "estimate" (the fit's point estimate), "ci-low"/"ci-high" (an end of its 95% CI), or a number.
    """
    estimates = {record["id"]: record for record in results.get("estimates") or []}
    correctness = (results.get("dataset") or {}).get("correctness")
    if estimate is not None:
        if estimate not in estimates:
            raise TypicalityError(f"No estimate '{estimate}' in results.json; its estimates are: {', '.join(estimates) or 'none'}.")
        record, reason = estimates[estimate], f"the estimate {estimate} was asked for"
    else:
        headline_id = (results.get("headline") or {}).get("estimate")
        record = estimates.get(headline_id)
        if record is None or not record.get("fitted"):
            why = record.get("reason") if record else "results.json names no headline fit"
            raise TypicalityError(f"This audit has no usable fit to take alpha from ({why}); nothing was written. Re-run the audit with more data, or pass --alpha VALUE.")
        reason = "the audit's headline fit"
        if not is_quality_controlled(record, correctness):
            adjusted_id = f"all|{record['typicality']}|{correctness}"
            adjusted = estimates.get(adjusted_id)
            if adjusted is None or not adjusted.get("fitted"):
                raise TypicalityError(
                    f"The headline fit {headline_id} does not control for {correctness}, and the adjusted fit {adjusted_id} is not available; "
                    "removing an uncontrolled alpha would also remove the part of quality that typicality carries. Pass --estimate ID of a quality-controlled fit."
                )
            record = adjusted
            reason = f"the adjusted fit (all pairs, controlling for {correctness}), because the headline fit {headline_id} does not control for quality"
    if not record.get("fitted"):
        raise TypicalityError(f"The estimate {record['id']} was not fitted ({record.get('reason')}); nothing was written. Choose a fitted estimate.")
    how, value = _alpha_value(record, alpha)
    if how == "value":
        reason = f"alpha = {value:g} was given; {record['id']} ({reason}) sets the typicality definition and controls"
    elif how != "estimate":
        reason = f"the {how} end of the 95% CI of {reason} ({record['id']})"
    else:
        reason = f"the point estimate of {reason} ({record['id']})"
    return AlphaChoice(
        estimate=record["id"],
        alpha=value,
        how=how,
        reason=reason,
        typicality=record["typicality"],
        controls=list(record.get("controls") or []),
        estimate_alpha=float(record["alpha"]),
        ci_low=record.get("ci_low"),
        ci_high=record.get("ci_high"),
    )


def _alpha_value(record: dict, alpha: str | float | None) -> tuple[str, float]:
    if alpha is None or alpha == "estimate":
        return "estimate", float(record["alpha"])
    if alpha in ("ci-low", "ci-high"):
        value = record.get(alpha.replace("-", "_"))
        if value is None:
            raise TypicalityError(f"The estimate {record['id']} has no {alpha}; pass --alpha VALUE instead.")
        return alpha, float(value)
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise TypicalityError(f"--alpha must be ci-low, ci-high or a number, got '{alpha}'.") from None
    if not math.isfinite(value):
        raise TypicalityError(f"--alpha must be a finite number, got '{alpha}'.")
    return "value", value


def debias_controls(choice: AlphaChoice, correctness: str | None) -> list[str]:
    """The controls of the debiasing model: the fit's, plus the quality rating when the data has one."""
    controls = list(choice.controls)
    if correctness and correctness not in controls:
        controls.insert(0, correctness)
    return controls


def fit_debias_model(design: PairDesign, choice: AlphaChoice) -> DebiasModel:
    """Refit the controls' coefficients over all pairs with the typicality term fixed at alpha * dl, and without it."""
    frame = design.frame
    controls = debias_controls(choice, design.correctness)
    delta_column = TYPICALITY_COLUMNS[choice.typicality]
    columns = [control_column(name) for name in controls]
    missing = [column for column in [delta_column, *columns] if column not in frame.columns]
    if missing:
        raise TypicalityError(f"The pair design lacks {', '.join(missing)}, which the fit {choice.estimate} used; re-run `typicality fit` on the audit.")
    complete = frame[[delta_column, *columns, "label"]].notna().all(axis=1).to_numpy()
    y = frame["label"].to_numpy(dtype=float)[complete]
    X = frame[columns].to_numpy(dtype=float)[complete]
    offset = choice.alpha * frame[delta_column].to_numpy(dtype=float)[complete]
    model = DebiasModel(alpha=choice.alpha, typicality_column=delta_column, controls=controls, beta={}, gamma={}, n_pairs_fitted=int(complete.sum()))
    if not controls:
        return model
    if complete.sum() < 2 * len(controls):
        raise TypicalityError(f"Only {int(complete.sum())} pairs have every control ({', '.join(controls)}); too few to fit the debiasing model.")
    beta = _logit(y, X, offset, model.warnings, "with the typicality term")
    gamma = _logit(y, X, None, model.warnings, "without the typicality term")
    model.beta = dict(zip(controls, beta))
    model.gamma = dict(zip(controls, gamma))
    return model


def _logit(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None, messages: list[str], what: str) -> list[float]:
    """A no-intercept binomial logit (labels 0, 1 or 1/2); constant columns get coefficient 0."""
    varying = np.array([np.ptp(X[:, j]) > 0 for j in range(X.shape[1])]) if len(X) else np.zeros(X.shape[1], dtype=bool)
    coefficients = np.zeros(X.shape[1])
    if varying.any():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = sm.GLM(y, X[:, varying], family=sm.families.Binomial(), offset=offset).fit()
        if any(issubclass(w.category, (PerfectSeparationWarning, ConvergenceWarning)) for w in caught) or not result.converged:
            messages.append(f"The debiasing model's logit {what} did not converge; its coefficients are unreliable.")
        coefficients[varying] = np.asarray(result.params, dtype=float)
    return [float(value) for value in coefficients]


def pair_terms(first_minus_second: pd.DataFrame, model: DebiasModel) -> pd.DataFrame:
    """Per pair, oriented first vs second (columns: the typicality delta and the controls' deltas, first minus second).

    Returns margin, weight (for "first preferred"), p_first_with_typicality,
    p_first_without_typicality and flip; NaN (flip False) where a control value is missing.
    """
    delta = first_minus_second[model.typicality_column].to_numpy(dtype=float)
    if model.controls:
        D = first_minus_second[model.control_columns].to_numpy(dtype=float)
        control_term = D @ np.array([model.beta[name] for name in model.controls])
        marginal_term = D @ np.array([model.gamma[name] for name in model.controls])
    else:
        control_term = np.zeros(len(delta))
        marginal_term = np.zeros(len(delta))
    p_with = expit(control_term + model.alpha * delta)
    p_without = expit(control_term)
    weight = expit(marginal_term) / p_with
    flip = (p_with - 0.5) * (p_without - 0.5) < 0
    return pd.DataFrame(
        {
            "margin": -model.alpha * delta,
            "weight": weight,
            "p_first_with_typicality": p_with,
            "p_first_without_typicality": p_without,
            "flip": flip,
        },
        index=first_minus_second.index,
    )


def winner_first(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The decisive pairs with every delta column oriented preferred minus other (label 1 keeps, 0 negates)."""
    decisive = frame[frame["label"] != 0.5]
    sign = np.where(decisive["label"].to_numpy(dtype=float) == 1.0, 1.0, -1.0)
    oriented = decisive[columns].mul(sign, axis=0)
    return oriented


def debiasing_summary(design: PairDesign, results: dict, *, alpha: str | float | None = None, estimate: str | None = None) -> dict:
    """results.json's `debiasing` entry: the alpha removed, the debiasing model, flips and weights over the decisive pairs.

    An audit without a usable fit gets `{"available": False, "reason": ...}`.
    """
    try:
        choice = choose_alpha(results, alpha=alpha, estimate=estimate)
        model = fit_debias_model(design, choice)
    except TypicalityError as error:
        return {"available": False, "reason": str(error)}
    terms = pair_terms(winner_first(design.frame, [model.typicality_column, *model.control_columns]), model)
    usable = terms["weight"].notna().to_numpy()
    weights = terms["weight"].to_numpy()[usable]
    p_without = terms["p_first_without_typicality"].to_numpy()[usable]
    n_flips = int(terms["flip"].sum())
    n_decisive = int(len(terms))
    return {
        "available": True,
        "estimate": choice.estimate,
        "alpha": choice.alpha,
        "how": choice.how,
        "reason": choice.reason,
        "typicality": choice.typicality,
        "controls": model.controls,
        "coefficients_with_typicality": model.beta,
        "coefficients_without_typicality": model.gamma,
        "n_pairs": int(len(design.frame)),
        "n_decisive": n_decisive,
        "n_ties": int((design.frame["label"] == 0.5).sum()),
        "n_lacking_controls": int((~usable).sum()),
        "n_flips": n_flips,
        "share_flips": n_flips / n_decisive if n_decisive else None,
        # Where removing typicality leaves no preference at all (no controls, or equal controls).
        "n_undetermined": int((p_without == 0.5).sum()),
        "weights": _weight_summary(weights),
        "warnings": model.warnings,
    }


def _weight_summary(weights: np.ndarray) -> dict:
    if not len(weights):
        return {"mean": None, "min": None, "max": None, "effective_n": None}
    return {
        "mean": float(weights.mean()),
        "min": float(weights.min()),
        "max": float(weights.max()),
        # Kish's effective sample size: how many equally weighted pairs the weighted data is worth.
        "effective_n": float(weights.sum() ** 2 / np.sum(weights**2)),
    }


def choice_record(choice: AlphaChoice) -> dict:
    return asdict(choice)


__all__ = [
    "ALPHA_CHOICES",
    "AlphaChoice",
    "DebiasModel",
    "choice_record",
    "choose_alpha",
    "debias_controls",
    "debiasing_summary",
    "fit_debias_model",
    "is_quality_controlled",
    "pair_terms",
    "winner_first",
]
