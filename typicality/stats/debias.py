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
the fit's, it equals that fit's coefficients (both are the same `PairwiseLogit`, with the paper
construction's intercept where the audit used that construction; the intercept is a position
effect of dataset order, so the per-pair terms below leave it out). `P(y | controls)` is a logit on the controls alone
(no typicality), the conditional that reweighing targets. When the data has a quality rating it
is always among the controls: the debiased preference is the quality difference, not a coin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.results import AuditResults, Debiasing, Estimate, is_quality_controlled
from typicality.stats.pair_design import ALL_PAIRS, TYPICALITY_COLUMNS, control_column
from typicality.stats.pairwise_logit import INTERCEPT, PairwiseLogit, PairwiseSpec

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
    # The paper construction's intercept (a position effect of dataset order), fitted with the typicality term;
    # it belongs to the dataset's order, not to the responses, so the per-pair terms leave it out.
    intercept: float | None = None

    @property
    def control_columns(self) -> list[str]:
        return [control_column(name) for name in self.controls]


def choose_alpha(results: AuditResults, *, alpha: str | float | None = None, estimate: str | None = None) -> AlphaChoice:
    """The alpha to remove: the headline fit's (quality-controlled when the data rates quality), or the one asked for.

    `estimate`: an estimate id of results.json instead of the headline. `alpha`: None or
    "estimate" (the fit's point estimate), "ci-low"/"ci-high" (an end of its 95% CI), or a number.
    """
    return choose_alpha_among(results.estimates, results.headline_estimate, results.correctness, alpha=alpha, estimate=estimate)


def choose_alpha_among(
    estimates: Sequence[Estimate],
    headline: Estimate | None,
    correctness: str | None,
    *,
    alpha: str | float | None = None,
    estimate: str | None = None,
) -> AlphaChoice:
    """`choose_alpha` on the pieces of the results (the stats stage calls it before the results exist as a whole)."""
    by_id = {record.id: record for record in estimates}
    if estimate is not None:
        if estimate not in by_id:
            raise TypicalityError(f"No estimate '{estimate}' in results.json; its estimates are: {', '.join(by_id) or 'none'}.")
        record, reason = by_id[estimate], f"the estimate {estimate} was asked for"
    else:
        record = headline
        if record is None or not record.fitted:
            why = record.reason if record else "results.json names no headline fit"
            raise TypicalityError(
                f"This audit has no usable fit to take alpha from ({why}); nothing was written. Re-run the audit with more data, or pass --alpha VALUE."
            )
        reason = "the audit's headline fit"
        if not is_quality_controlled(record, correctness):
            adjusted = adjusted_fit(estimates, record.typicality, correctness)
            if adjusted is None or not adjusted.fitted:
                raise TypicalityError(
                    f"The headline fit {record.id} does not control for {correctness}, and the adjusted fit (all pairs, {record.typicality}, "
                    f"controlling for {correctness} alone) is not available; "
                    "removing an uncontrolled alpha would also remove the part of quality "
                    "that typicality carries. Pass --estimate ID of a quality-controlled fit."
                )
            record = adjusted
            reason = f"the adjusted fit (all pairs, controlling for {correctness}), because the headline fit {record.id} does not control for quality"
    if not record.fitted:
        raise TypicalityError(f"The estimate {record.id} was not fitted ({record.reason}); nothing was written. Choose a fitted estimate.")
    how, value = _alpha_value(record, alpha)
    if how == "value":
        reason = f"alpha = {value:g} was given; {record.id} ({reason}) sets the typicality definition and controls"
    elif how != "estimate":
        reason = f"the {how} end of the 95% CI of {reason} ({record.id})"
    else:
        reason = f"the point estimate of {reason} ({record.id})"
    return AlphaChoice(
        estimate=record.id,
        alpha=value,
        how=how,
        reason=reason,
        typicality=record.typicality,
        controls=list(record.controls),
        estimate_alpha=float(record.alpha),
        ci_low=record.ci_low,
        ci_high=record.ci_high,
    )


def adjusted_fit(estimates: Sequence[Estimate], typicality: str, correctness: str) -> Estimate | None:
    """The tie-dropping fit on all pairs of this typicality controlling for the quality rating alone (the robustness set's adjusted fit)."""
    return next(
        (
            record for record in estimates
            if record.slice == ALL_PAIRS and record.typicality == typicality and list(record.controls) == [correctness] and record.estimator == "logit"
        ),
        None,
    )


def _alpha_value(record: Estimate, alpha: str | float | None) -> tuple[str, float]:
    if alpha is None or alpha == "estimate":
        return "estimate", float(record.alpha)
    if alpha in ("ci-low", "ci-high"):
        value = getattr(record, alpha.replace("-", "_"))
        if value is None:
            raise TypicalityError(f"The estimate {record.id} has no {alpha}; pass --alpha VALUE instead.")
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
    """Refit the controls' coefficients over all pairs with the typicality term fixed at alpha * dl, and without it.

    Both are the audit's `PairwiseLogit` over all pairs (so the paper construction's intercept is
    fitted as the headline fitted it), with the typicality term as an offset or left out.
    """
    frame = design.frame
    controls = debias_controls(choice, design.correctness)
    delta_column = TYPICALITY_COLUMNS[choice.typicality]
    missing = [column for column in [delta_column, *(control_column(name) for name in controls)] if column not in frame.columns]
    if missing:
        raise TypicalityError(f"The pair design lacks {', '.join(missing)}, which the fit {choice.estimate} used; re-run `typicality fit` on the audit.")
    spec = PairwiseSpec(ALL_PAIRS, choice.typicality, tuple(controls))
    with_term = PairwiseLogit(design, spec, offset_alpha=choice.alpha)
    model = DebiasModel(alpha=choice.alpha, typicality_column=delta_column, controls=controls, beta={}, gamma={}, n_pairs_fitted=with_term.n_pairs)
    if not controls:
        return model
    if with_term.n_pairs < 2 * len(controls):
        raise TypicalityError(f"Only {with_term.n_pairs} pairs have every control ({', '.join(controls)}); too few to fit the debiasing model.")
    model.beta, model.intercept = _coefficients(with_term, controls, model.warnings, "with the typicality term")
    model.gamma, _ = _coefficients(PairwiseLogit(design, spec, offset_alpha=0.0), controls, model.warnings, "without the typicality term")
    return model


def _coefficients(model: PairwiseLogit, controls: list[str], messages: list[str], what: str) -> tuple[dict[str, float], float | None]:
    """Each control's coefficient (0 for one constant over the pairs, dropped by the model), and the intercept if fitted."""
    coefficients = dict.fromkeys(controls, 0.0)
    if not model.names:
        return coefficients, None
    results = model.fit()
    if not results.converged:
        messages.append(f"The debiasing model's logit {what} did not converge; its coefficients are unreliable.")
    coefficients.update((name, float(value)) for name, value in zip(results.names, results.params) if name in coefficients)
    return coefficients, results.coef(INTERCEPT) if INTERCEPT in results.names else None


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


def debiasing_summary(
    design: PairDesign,
    estimates: Sequence[Estimate],
    headline: Estimate | None,
    correctness: str | None,
    *,
    alpha: str | float | None = None,
    estimate: str | None = None,
) -> Debiasing:
    """results.json's `debiasing` entry: the alpha removed, the debiasing model, flips and weights over the decisive pairs.

    An audit without a usable fit gets `Debiasing(available=False, reason=...)`.
    """
    try:
        choice = choose_alpha_among(estimates, headline, correctness, alpha=alpha, estimate=estimate)
        model = fit_debias_model(design, choice)
    except TypicalityError as error:
        return Debiasing(available=False, reason=str(error))
    terms = pair_terms(winner_first(design.frame, [model.typicality_column, *model.control_columns]), model)
    usable = terms["weight"].notna().to_numpy()
    weights = terms["weight"].to_numpy()[usable]
    p_without = terms["p_first_without_typicality"].to_numpy()[usable]
    n_flips = int(terms["flip"].sum())
    n_decisive = int(len(terms))
    return Debiasing(
        available=True,
        estimate=choice.estimate,
        alpha=choice.alpha,
        how=choice.how,
        reason=choice.reason,
        typicality=choice.typicality,
        controls=model.controls,
        coefficients_with_typicality=model.beta,
        coefficients_without_typicality=model.gamma,
        n_pairs=int(len(design.frame)),
        n_decisive=n_decisive,
        n_ties=int((design.frame["label"] == 0.5).sum()),
        n_lacking_controls=int((~usable).sum()),
        n_flips=n_flips,
        share_flips=n_flips / n_decisive if n_decisive else None,
        # Where removing typicality leaves no preference at all (no controls, or equal controls).
        n_undetermined=int((p_without == 0.5).sum()),
        weights=_weight_summary(weights),
        warnings=model.warnings,
    )


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
    "choose_alpha_among",
    "debias_controls",
    "debiasing_summary",
    "fit_debias_model",
    "pair_terms",
    "winner_first",
]
