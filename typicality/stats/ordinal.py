"""For rated data: an ordinal logit of the preference rating on correctness and typicality, with a likelihood-ratio test.

One row per response (not per pair): rating ~ controls + typicality under a proportional-odds
logit (statsmodels `OrderedModel`), within prompt:
- typicality is centred within its prompt (each response's mean log-likelihood minus its
  prompt's mean), so the coefficient compares responses to the same prompt, as the pairwise
  estimator does, and prompt-level differences (harder prompts get lower ratings and less
  typical answers) cannot drive it. Prompt fixed effects in an ordinal logit with 2-5
  responses per prompt suffer the incidental-parameter bias; centring does not.
- each control (correctness) enters as categories (one indicator per level but the lowest),
  not as a linear score: a 0-4 rating is ordinal, not interval.
- the typicality coefficient gets a prompt-clustered Wald test (sandwich covariance clustered
  by prompt, t with G-1 degrees of freedom), because responses to one prompt are rated by the
  same annotator session and are not independent, beside the likelihood-ratio test (which
  assumes they are) and the model-based Wald test.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import MISSING, fields
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy.stats import chi2
from statsmodels.miscmodels.ordinal_model import OrderedModel

from typicality.domain import PreferenceData
from typicality.errors import TypicalityError
from typicality.results import OrdinalFit
from typicality.stats.numbers import finite_or_none
from typicality.stats.pairwise_logit import t_inference
from typicality.stats.scores_table import CheckedScores, check_scores

MAX_LEVELS = 10  # a rating with more distinct values is binned into quintiles for the ordinal model
MIN_RESPONSES = 20


def preference_rating(data: PreferenceData) -> str | None:
    """The rating a rated dataset's labels come from, as the loader recorded it (None for pairwise data)."""
    rating = getattr(data, "preference_rating", None)
    return rating if rating in data.rating_columns else None


def ordinal_logit(
    data: PreferenceData,
    scores: CheckedScores | pd.DataFrame,
    *,
    outcome: str | None = None,
    typicality: str = "mean_logprob",
    controls: list[str] | None = None,
) -> OrdinalFit:
    """Fit rating ~ controls + typicality (default controls: the data's correctness rating) and test typicality by LR."""
    return OrdinalFit(**vars(_fit_ordinal(data, scores, outcome, typicality, controls)))


def _fit_ordinal(data, scores, outcome, typicality, controls) -> SimpleNamespace:
    """`ordinal_logit`'s work on a draft of the `OrdinalFit` (its fields, filled in as the fit goes)."""
    outcome = outcome or preference_rating(data)
    if outcome is None or outcome not in data.responses.columns:
        raise TypicalityError(
            f"Dataset '{data.name}' has no preference rating to model (preference: '{data.preference}'); pass outcome=<rating column>."
        )
    if controls is None:
        controls = [data.correctness] if data.correctness and data.correctness != outcome else []
    missing = [name for name in controls if name not in data.responses.columns]
    if missing:
        raise TypicalityError(f"Unknown rating(s) {', '.join(missing)} for the ordinal model; this data has: {', '.join(data.rating_columns)}.")
    fit = _draft(outcome=outcome, typicality=typicality, controls=list(controls))

    scores = check_scores(scores)
    usable = scores.usable.set_index("response_id")[typicality]
    responses = data.responses.drop_duplicates("response_id").set_index("response_id")
    table = responses[[outcome, *controls]].apply(pd.to_numeric, errors="coerce")
    table[typicality] = usable.reindex(table.index)
    table["prompt_id"] = responses["prompt_id"].astype(str)
    complete = table.notna().all(axis=1)
    if (~complete).any():
        fit.warnings.append(f"{int((~complete).sum())} of {len(table)} responses lack a score or a rating and are left out.")
    table = table[complete].copy()
    fit.n_responses = int(len(table))
    fit.n_prompts = int(table["prompt_id"].nunique())
    # Within prompt: each response's typicality relative to its prompt's mean.
    table[typicality] = table[typicality] - table.groupby("prompt_id")[typicality].transform("mean")

    levels = np.unique(table[outcome])
    if len(levels) > MAX_LEVELS:
        # A continuous score (or a 0-100 slider) is not a rating scale; quintiles keep the model's meaning.
        table[outcome] = pd.qcut(table[outcome], 5, labels=False, duplicates="drop")
        fit.warnings.append(f"{outcome} has {len(levels)} distinct values; binned into quintiles for the ordinal model.")
        levels = np.unique(table[outcome])
    fit.n_levels = int(len(levels))
    if fit.n_responses < MIN_RESPONSES:
        return _not_fitted(fit, f"only {fit.n_responses} responses with a rating and a score; at least {MIN_RESPONSES} are needed")
    if fit.n_levels < 2:
        return _not_fitted(fit, f"{outcome} takes a single value, so there is nothing to model")
    for name in list(fit.controls):
        if table[name].nunique() < 2:
            fit.warnings.append(f"Control {name} is constant; fitted without it.")
            fit.controls.remove(name)
    if table[typicality].nunique() < 2:
        return _not_fitted(fit, f"{typicality} is constant, so its coefficient is not identified")

    endog = pd.Series(pd.Categorical(table[outcome], categories=levels, ordered=True), index=table.index)
    categories = _categories(table, fit.controls)
    groups = pd.factorize(table["prompt_id"])[0]
    try:
        full = _fit(endog, pd.concat([categories, table[[typicality]]], axis=1), groups)
        if fit.controls:
            reduced_llf = _fit(endog, categories).llf
        else:
            # With no predictor the thresholds reproduce the marginal shares exactly.
            counts = endog.value_counts().to_numpy(dtype=float)
            counts = counts[counts > 0]
            reduced_llf = float(np.sum(counts * np.log(counts / counts.sum())))
    except (np.linalg.LinAlgError, ValueError) as error:
        return _not_fitted(fit, f"the ordinal model could not be fitted ({error})")

    params, pvalues = np.asarray(full.params, dtype=float), np.asarray(full.pvalues, dtype=float)
    bse = np.sqrt(np.clip(np.diag(full.model_cov), 0, None))
    k = categories.shape[1]  # predictors come first in OrderedModel's params, then the thresholds
    lr = 2.0 * (float(full.llf) - float(reduced_llf))
    numbers = [params[k], bse[k], pvalues[k], lr]
    if not np.all(np.isfinite(numbers)):
        return _not_fitted(fit, "the ordinal model gave a non-finite estimate or standard error (a degenerate design)")
    fit.fitted = True
    fit.coef, fit.se = float(params[k]), float(bse[k])
    fit.p_value = float(2 * _normal_sf(abs(fit.coef / fit.se)))
    cluster_se = float(np.sqrt(np.asarray(full.cov_params(), dtype=float)[k, k]))
    if math.isfinite(cluster_se) and cluster_se > 0 and fit.n_prompts > 1:
        cluster_p, ci = t_inference([fit.coef], [cluster_se], fit.n_prompts - 1)
        fit.cluster_se = cluster_se
        fit.cluster_p_value = float(cluster_p[0])
        fit.cluster_ci_low, fit.cluster_ci_high = float(ci[0, 0]), float(ci[0, 1])
    fit.lr_statistic = max(lr, 0.0)
    fit.lr_p_value = float(chi2.sf(fit.lr_statistic, df=1))
    for index, name in enumerate(categories.columns):
        fit.coefficients[name] = {"coef": finite_or_none(params[index]), "se": finite_or_none(bse[index]), "p_value": finite_or_none(pvalues[index])}
    if not full.mle_retvals.get("converged", True):
        fit.warnings.append("The ordinal model did not converge; treat these numbers with caution.")
    return fit


def _categories(table: pd.DataFrame, controls: list[str]) -> pd.DataFrame:
    """Each control as indicators of its levels but the lowest ("correctness=1", ...)."""
    parts = []
    for name in controls:
        levels = np.sort(table[name].unique())
        for level in levels[1:]:
            parts.append(pd.Series((table[name] == level).astype(float), index=table.index, name=f"{name}={level:g}"))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=table.index)


def _fit(endog: pd.Series, exog: pd.DataFrame, groups: np.ndarray | None = None):
    """Fit the proportional-odds logit; with `groups`, the covariance is the prompt-clustered sandwich
    (`model_cov` keeps the model-based one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is read from mle_retvals instead
        model = OrderedModel(endog, exog, distr="logit")
        result = model.fit(method="bfgs", disp=False, maxiter=1000, gtol=1e-8)
        result.model_cov = np.asarray(result.cov_params(), dtype=float)
        if groups is not None:
            clustered = model.fit(
                method="bfgs", disp=False, maxiter=1000, gtol=1e-8, start_params=result.params, cov_type="cluster", cov_kwds={"groups": groups}
            )
            clustered.model_cov = result.model_cov
            return clustered
        return result


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _draft(**given) -> SimpleNamespace:
    """An `OrdinalFit`'s fields with their defaults, to fill in while fitting (the result itself is frozen)."""
    defaults = {f.name: f.default_factory() if f.default_factory is not MISSING else f.default for f in fields(OrdinalFit) if f.name not in given}
    return SimpleNamespace(**given, **defaults)


def _not_fitted(fit: SimpleNamespace, reason: str) -> SimpleNamespace:
    fit.fitted = False
    fit.reason = reason
    return fit
