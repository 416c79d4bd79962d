"""The agreement rate: how often the preferred response is the more typical one (Wilson CI, exact binomial test vs 0.5).

The Wilson interval and the binomial test treat pairs as independent, which they are when each
prompt carries one pair. When prompts carry several pairs (every within-prompt pair of a rated
source), pairs of one prompt share responses and are correlated; the agreement rate then also
gets a prompt-clustered interval (`clustered`): the rate as a ratio estimator, its SE from
prompt totals with the G/(G-1) correction, and a t(G-1) interval and test against 50%. With
`one_pair_per_prompt=True` one decided pair per prompt is drawn (seeded), as the paper's
agreement tables did, and the Wilson interval is exact again.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from typicality.domain import PairDesign, PreferenceData, ScoreResult
from typicality.errors import TypicalityError, require_type
from typicality.results import Agreement
from typicality.stats.pair_design import TYPICALITY_COLUMNS, build_pairs
from typicality.stats.pairwise_logit import t_inference


def agreement_rate(
    design: PairDesign | PreferenceData,
    scores: ScoreResult | pd.DataFrame | None = None,
    *,
    typicality: str = "mean_logprob",
    seed: int = 0,
    one_pair_per_prompt: bool = False,
) -> Agreement:
    """The agreement rate on a pair design, or on data + scores (a design is built first)."""
    require_type("agreement_rate", "design", design, (PairDesign, PreferenceData), "a PairDesign (typicality.build_pairs) or a PreferenceData with its scores")
    if isinstance(design, PreferenceData):
        if scores is None:
            raise TypicalityError("agreement_rate(data, scores): the scores table is missing.")
        design = build_pairs(design, scores, seed=seed)
    if typicality not in TYPICALITY_COLUMNS:
        raise TypicalityError(f"typicality must be one of {', '.join(TYPICALITY_COLUMNS)}, got '{typicality}'.")
    decided = design.frame[design.frame["label"] != 0.5]
    notes = []
    if one_pair_per_prompt:
        before = len(decided)
        decided = decided.sample(frac=1.0, random_state=seed).drop_duplicates("prompt_id").sort_index()
        notes.append(f"One decided pair per prompt drawn (seed {seed}): {len(decided)} of {before} decided pairs.")
    delta = decided[TYPICALITY_COLUMNS[typicality]].to_numpy(dtype=float)
    label = decided["label"].to_numpy(dtype=float)
    unequal = delta != 0
    # The preferred response is the more typical one when the label and the sign of delta agree.
    agree = ((label == 1.0) & (delta > 0)) | ((label == 0.0) & (delta < 0))
    n_pairs, n_agree = int(unequal.sum()), int(agree.sum())
    ties = int((~unequal).sum())
    notes += [f"{ties} pairs with exactly equal {typicality} are left out."] if ties else []
    if n_pairs == 0:
        return Agreement(typicality, None, None, None, None, 0, 0, ties, notes + ["No decided pairs: the agreement rate is undefined."], 0, one_pair_per_prompt)
    low, high = proportion_confint(n_agree, n_pairs, alpha=0.05, method="wilson")
    p_value = binomtest(n_agree, n_pairs, p=0.5, alternative="two-sided").pvalue
    prompts = decided["prompt_id"].astype(str).to_numpy()[unequal]
    clustered = clustered_rate(agree[unequal].astype(float), prompts)
    if clustered is not None:
        notes.append(
            f"Prompts carry several pairs: the Wilson interval treats them as independent; the prompt-clustered interval "
            f"(design effect {clustered['design_effect']:.2f}) does not."
        )
    return Agreement(
        typicality, n_agree / n_pairs, float(low), float(high), float(p_value), n_agree, n_pairs, ties, notes,
        int(pd.unique(prompts).size), one_pair_per_prompt, clustered,
    )


def clustered_rate(agree: np.ndarray, prompts: np.ndarray) -> dict | None:
    """Prompt-clustered inference for a share (a ratio of prompt totals); None when every prompt has one pair."""
    codes = np.unique(prompts, return_inverse=True)[1]
    n_clusters = int(codes.max() + 1) if len(codes) else 0
    counts = np.bincount(codes, minlength=n_clusters)
    if n_clusters < 2 or counts.max() <= 1:
        return None
    totals = np.bincount(codes, weights=agree, minlength=n_clusters)
    n = len(agree)
    rate = totals.sum() / n
    residuals = totals - rate * counts
    se = math.sqrt(n_clusters / (n_clusters - 1) * np.sum(residuals**2)) / n
    naive = math.sqrt(rate * (1 - rate) / n)
    df = n_clusters - 1
    ci = t_inference([rate], [se], df)[1]
    p_value = float(t_inference([rate - 0.5], [se], df)[0][0]) if se > 0 else None
    return {
        "se": se,
        "ci_low": max(0.0, float(ci[0, 0])),
        "ci_high": min(1.0, float(ci[0, 1])),
        "p_value": p_value,
        "df": df,
        "design_effect": (se / naive) ** 2 if naive > 0 else None,
        "method": "ratio estimator, prompt-clustered SE (G/(G-1)), t(G-1) interval and test against 50%",
    }

