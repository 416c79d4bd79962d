"""Several datasets (or subsets): alpha per SD of Δℓ side by side, pooled by random effects, Holm-adjusted p.

Alpha is per nat of Δℓ, and datasets differ in how spread their Δℓ is, so the compared effect
is scale-free: b = alpha × SD(Δℓ), the log odds ratio per SD each audit reports, with
SE(b) = SE(alpha) × SD(Δℓ) (the SD is treated as known, as the audit's odds ratio per SD does).

Pooling uses statsmodels' `combine_effects` (DerSimonian-Laird moments). statsmodels 0.15
does not truncate DL's tau² at 0; the DerSimonian-Laird estimator does, and with tau² = 0 its
random-effects estimate is the fixed-effect one, so that row is taken then (a test checks the
pooled estimate against a hand DL computation in both cases). Datasets are independent samples
of prompts, so the difference of two datasets' effects has SE sqrt(SE_i² + SE_j²).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
from scipy.stats import chi2, norm
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests

from typicality.comparison_results import DatasetComparison, DatasetDifference, DatasetEffect, Pooled, PooledEffect
from typicality.errors import TypicalityError
from typicality.stats.compare.inputs import ComparedAudit

FEW_DATASETS = 5  # below this tau² and I² are very imprecise


def compare_datasets(audits: list[ComparedAudit]) -> tuple[DatasetComparison, list[str]]:
    """The dataset comparison's content for comparison.json, and its warnings."""
    notes: list[str] = []
    labels = [item.label for item in audits]
    estimates = [item.estimate for item in audits]
    unfitted = [label for label, estimate in zip(labels, estimates) if not estimate.fitted]
    if unfitted:
        raise TypicalityError(
            f"The compared estimate was not fitted in {', '.join(unfitted)}, so it has "
            "no alpha to pool: compare audits whose fits ran (see their results.json)."
        )
    effect = np.array([e.alpha * e.sd_delta for e in estimates])
    se = np.array([e.se * e.sd_delta for e in estimates])
    p_values = np.array([e.p_value for e in estimates])
    holm = multipletests(p_values, alpha=0.05, method="holm")[1]
    rows = [
        DatasetEffect(
            label=label,
            alpha=e.alpha,
            se=e.se,
            sd_delta=e.sd_delta,
            effect_per_sd=float(b),
            se_per_sd=float(s),
            ci_low=float(b - norm.ppf(0.975) * s),
            ci_high=float(b + norm.ppf(0.975) * s),
            odds_ratio_per_sd=float(math.exp(b)),
            p_value=float(p),
            p_holm=float(h),
            n_pairs=e.n_pairs,
            n_clusters=e.n_clusters,
            estimate=e.id,
        )
        for label, e, b, s, p, h in zip(labels, estimates, effect, se, p_values, holm)
    ]
    pooled = pool(effect, se**2, labels)
    specs = {(e.slice, e.typicality, tuple(e.controls)) for e in estimates}
    if len(specs) > 1:
        notes.append(
            "The compared fits differ between audits ("
            + "; ".join(f"{label}: {e.id}" for label, e in zip(labels, estimates))
            + "); the pooled effect mixes them."
        )
    if len({item.fingerprint for item in audits}) > 1:
        notes.append("The audits use different reference models, so a difference between datasets is confounded with the model.")
    if len(audits) < FEW_DATASETS:
        notes.append(f"Only {len(audits)} datasets: tau² and I² (and the random-effects interval) are very imprecise with fewer than {FEW_DATASETS}.")
    comparison = DatasetComparison(effect="alpha × SD(Δℓ): log odds ratio per SD", datasets=rows, pooled=pooled, differences=differences(rows))
    return comparison, notes


def pool(effect: np.ndarray, variance: np.ndarray, labels: list[str]) -> Pooled:
    """Fixed- and random-effects (DerSimonian-Laird, tau² truncated at 0) pooled effects, tau², I², Cochran's Q."""
    with warnings.catch_warnings():  # a negative untruncated tau² makes statsmodels take sqrt of negatives in rows not used then
        warnings.simplefilter("ignore", RuntimeWarning)
        combined = combine_effects(effect, variance, method_re="dl", row_names=labels, use_t=False)
        frame = combined.summary_frame()
    q, df = float(combined.q), len(effect) - 1
    tau2 = max(0.0, float(combined.tau2))
    random_row = frame.loc["random effect"] if combined.tau2 > 0 else frame.loc["fixed effect"]
    fixed_row = frame.loc["fixed effect"]

    def entry(row) -> PooledEffect:
        return PooledEffect(effect=float(row["eff"]), se=float(row["sd_eff"]), ci_low=float(row["ci_low"]), ci_high=float(row["ci_upp"]),
                            p_value=float(2 * norm.sf(abs(row["eff"] / row["sd_eff"]))), odds_ratio=float(math.exp(row["eff"])))

    weights = combined.weights_rel_re if combined.tau2 > 0 else combined.weights_rel_fe
    return Pooled(
        method="random effects, DerSimonian-Laird (statsmodels combine_effects; tau² truncated at 0)",
        random=entry(random_row),
        fixed=entry(fixed_row),
        tau2=tau2,
        tau=math.sqrt(tau2),
        i2=max(0.0, (q - df) / q) if q > 0 else 0.0,
        q=q,
        q_df=df,
        q_p_value=float(chi2.sf(q, df)) if df > 0 else None,
        weights={label: float(weight) for label, weight in zip(labels, np.asarray(weights))},
    )


def differences(rows: list[DatasetEffect]) -> list[DatasetDifference]:
    """Every two datasets: difference of effects per SD (second minus first), z test, Holm-adjusted across the differences."""
    tests = []
    for first, second in itertools.combinations(rows, 2):
        difference = second.effect_per_sd - first.effect_per_sd
        se = math.sqrt(first.se_per_sd**2 + second.se_per_sd**2)
        tests.append(([first.label, second.label], difference, se, float(2 * norm.sf(abs(difference / se)))))
    holm = multipletests([p for *_, p in tests], method="holm")[1] if tests else []
    return [
        DatasetDifference(
            datasets=labels,
            difference=difference,
            se=se,
            ci_low=difference - norm.ppf(0.975) * se,
            ci_high=difference + norm.ppf(0.975) * se,
            p_value=p,
            p_holm=float(adjusted),
        )
        for (labels, difference, se, p), adjusted in zip(tests, holm)
    ]
