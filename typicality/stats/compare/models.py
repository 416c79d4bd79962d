"""One dataset, several reference models (the same pairs): do the models agree, and does alpha depend on the model?

- Typicality agreement: Spearman and Pearson correlations between the models' per-response
  typicality, and between their per-pair Δℓ (plus how often Δℓ has the same sign).
- One joint fit: every model's pairs stacked, the label regressed on Δℓ × model (and each
  control × model), no intercept, ONE sandwich clustered by prompt over the stacked rows. The
  design is block-diagonal, so each model's alpha is exactly its separate fit's; the clustered
  covariance also holds the covariance between models (the same pairs, the same prompts), so
  the Wald test of alpha_i - alpha_j uses the right SE, much smaller than treating the two
  audits as independent.
- Agreement rates: the share of decided pairs whose preferred response is the more typical one,
  per model, compared with McNemar's test on the paired outcomes (exact binomial when fewer
  than 25 pairs are discordant).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import chi2, pearsonr, spearmanr
from statsmodels.stats.contingency_tables import mcnemar

from typicality.comparison_results import (
    AgreementRate,
    Equality,
    FitSpec,
    McNemarTest,
    ModelAgreement,
    ModelAlpha,
    ModelComparison,
    ModelDifference,
    ModelJointFit,
    TypicalityCorrelation,
)
from typicality.results import Estimate
from typicality.stats.compare.inputs import ComparedAudit, aligned_pairs
from typicality.stats.pair_design import control_column
from typicality.stats.pairwise_logit import PairwiseLogit

EXACT_MCNEMAR_BELOW = 25  # discordant pairs; below this the chi-square approximation is poor


def compare_models(audits: list[ComparedAudit], spec: Estimate) -> tuple[ModelComparison, pd.DataFrame]:
    """The model comparison's content for comparison.json, and each response's typicality per model (for the scatter).

    `spec`: the first audit's compared fit; its slice, typicality and controls are refitted jointly for every model.
    """
    labels = [item.label for item in audits]
    pairs = aligned_pairs(audits, spec)
    per_response = response_typicality(audits, labels, spec.typicality)
    content = ModelComparison(
        typicality=spec.typicality,
        spec=FitSpec(slice=spec.slice, typicality=spec.typicality, controls=spec.controls),
        n_pairs=int(len(pairs[0])),
        n_prompts=int(pairs[0]["prompt_id"].nunique()),
        correlations=correlations(per_response, pairs, labels),
        joint_fit=joint_fit(pairs, labels, [control_column(name) for name in spec.controls], spec.controls, intercept=paper_construction(audits)),
        agreement=agreement_rates(pairs, labels),
    )
    return content, per_response


def response_typicality(audits: list[ComparedAudit], labels: list[str], typicality: str) -> pd.DataFrame:
    """One row per response in the pairs: response_id, prompt_id and its typicality under each model (a column per label)."""
    merged = None
    for item, label in zip(audits, labels):
        frame = item.pairs.frame
        sides = [
            pd.DataFrame(
                {
                    "response_id": frame[f"response_{side}"].astype(str),
                    "prompt_id": frame["prompt_id"].astype(str),
                    label: frame[f"{typicality}_{side}"].astype(float),
                }
            )
            for side in ("a", "b")
        ]
        values = pd.concat(sides).drop_duplicates("response_id")
        merged = values if merged is None else merged.merge(values.drop(columns="prompt_id"), on="response_id", how="inner")
    return merged.reset_index(drop=True)


def correlations(per_response: pd.DataFrame, pairs: list[pd.DataFrame], labels: list[str]) -> list[TypicalityCorrelation]:
    """Spearman and Pearson between every two models: per-response typicality and per-pair Δℓ."""
    rows = []
    for i, j in itertools.combinations(range(len(labels)), 2):
        x, y = per_response[labels[i]].to_numpy(), per_response[labels[j]].to_numpy()
        dx, dy = pairs[i]["delta"].to_numpy(), pairs[j]["delta"].to_numpy()
        decided = (dx != 0) & (dy != 0)
        rows.append(
            TypicalityCorrelation(
                models=[labels[i], labels[j]],
                n_responses=int(len(x)),
                response_pearson=float(pearsonr(x, y).statistic),
                response_spearman=float(spearmanr(x, y).statistic),
                mean_abs_difference=float(np.mean(np.abs(x - y))),
                max_abs_difference=float(np.max(np.abs(x - y))),
                mean_difference=float(np.mean(y - x)),
                n_pairs=int(len(dx)),
                delta_pearson=float(pearsonr(dx, dy).statistic),
                delta_spearman=float(spearmanr(dx, dy).statistic),
                delta_same_sign=float(np.mean(np.sign(dx[decided]) == np.sign(dy[decided]))) if decided.any() else None,
            )
        )
    return rows


def paper_construction(audits: list[ComparedAudit]) -> bool:
    """Whether the compared audits paired responses as the paper does (then each model's fit has its intercept, as the audits' fits do)."""
    return any(item.pairs.construction == "paper" for item in audits)


def stacked_design(pairs: list[pd.DataFrame], control_columns: list[str], intercept: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """y, X and prompt groups of the stacked fit: columns Δℓ × model k, then each control × model k (then intercept × model k)."""
    k, n = len(pairs), len(pairs[0])
    y = np.concatenate([frame["label"].to_numpy(dtype=float) for frame in pairs])
    blocks = control_columns + (["intercept"] if intercept else [])
    names = [f"alpha[{index}]" for index in range(k)] + [f"{column}[{index}]" for column in blocks for index in range(k)]
    X = np.zeros((k * n, k * (1 + len(blocks))))
    for index, frame in enumerate(pairs):
        rows = slice(index * n, (index + 1) * n)
        X[rows, index] = frame["delta"].to_numpy(dtype=float)
        for position, column in enumerate(blocks):
            X[rows, k * (position + 1) + index] = 1.0 if column == "intercept" else frame[column].to_numpy(dtype=float)
    prompts = pd.factorize(pd.concat([frame["prompt_id"] for frame in pairs]).to_numpy())[0]
    return y, X, prompts, names


def joint_fit(
    pairs: list[pd.DataFrame], labels: list[str], control_columns: list[str], control_names: list[str], *, intercept: bool = False
) -> ModelJointFit:
    """Alpha per model from one stacked fit with one prompt-clustered sandwich; Wald tests of their differences."""
    k = len(labels)
    y, X, groups, names = stacked_design(pairs, control_columns, intercept)
    # The normal reference here, t(G-1) everywhere else: the comparison's intervals and Wald tests of
    # differences (and the chi-square test of equality) are the large-sample ones statsmodels' GLM
    # gives, as committed comparisons were computed; with the tens of prompts of a comparison t(G-1)
    # would widen the intervals by a few percent.
    results = PairwiseLogit.from_arrays(y, X, groups, names).fit(use_t=False)
    params, covariance = results.params, results.cov
    ci, pvalues = results.conf_int(), results.pvalues
    alphas = [
        ModelAlpha(
            model=labels[index],
            alpha=float(params[index]),
            se=float(np.sqrt(covariance[index, index])),
            ci_low=float(ci[index, 0]),
            ci_high=float(ci[index, 1]),
            p_value=float(pvalues[index]),
        )
        for index in range(k)
    ]
    differences = []
    for i, j in itertools.combinations(range(k), 2):
        contrast = np.zeros(X.shape[1])
        contrast[j], contrast[i] = 1.0, -1.0
        test = results.wald(contrast)  # alpha_j - alpha_i
        differences.append(
            ModelDifference(
                models=[labels[i], labels[j]],
                difference=test["effect"],
                se=test["se"],
                ci_low=test["ci_low"],
                ci_high=test["ci_high"],
                z=test["statistic"],
                p_value=test["p_value"],
                se_if_independent=float(np.sqrt(covariance[i, i] + covariance[j, j])),
            )
        )
    equality = None
    if k > 2:  # all alphas equal: K - 1 contrasts at once
        restriction = np.zeros((k - 1, X.shape[1]))
        for row in range(k - 1):
            restriction[row, 0], restriction[row, row + 1] = -1.0, 1.0
        difference = restriction @ params
        statistic = float(difference @ np.linalg.solve(restriction @ covariance @ restriction.T, difference))
        equality = Equality(chi2=statistic, df=k - 1, p_value=float(chi2.sf(statistic, k - 1)))
    return ModelJointFit(
        alphas=alphas,
        differences=differences,
        controls=list(control_names),
        n_rows=int(len(y)),
        n_clusters=int(groups.max() + 1),
        converged=bool(results.converged),
        equality=equality,
    )


def agreement_rates(pairs: list[pd.DataFrame], labels: list[str]) -> ModelAgreement:
    """Per-model agreement rate on the pairs every model decides, and McNemar's test for every two models."""
    label = pairs[0]["label"].to_numpy()
    decided = label != 0.5
    for frame in pairs:
        decided &= frame["delta"].to_numpy() != 0
    agree = [(((label == 1.0) & (frame["delta"].to_numpy() > 0)) | ((label == 0.0) & (frame["delta"].to_numpy() < 0)))[decided] for frame in pairs]
    n = int(decided.sum())
    rates = [AgreementRate(model=name, n_agree=int(outcome.sum()), rate=float(outcome.mean()) if n else None) for name, outcome in zip(labels, agree)]
    tests = []
    for i, j in itertools.combinations(range(len(labels)), 2):
        table = np.array([[np.sum(agree[i] & agree[j]), np.sum(agree[i] & ~agree[j])], [np.sum(~agree[i] & agree[j]), np.sum(~agree[i] & ~agree[j])]])
        discordant = int(table[0, 1] + table[1, 0])
        exact = discordant < EXACT_MCNEMAR_BELOW
        outcome = mcnemar(table, exact=exact, correction=True)
        tests.append(
            McNemarTest(
                models=[labels[i], labels[j]],
                table=table.astype(int).tolist(),  # rows: first model agrees / not; columns: second model agrees / not
                only_first_agrees=int(table[0, 1]),
                only_second_agrees=int(table[1, 0]),
                rate_difference=float((table[1, 0] - table[0, 1]) / n) if n else None,  # second minus first
                method="exact binomial" if exact else "chi-square with continuity correction",
                statistic=float(outcome.statistic),
                p_value=float(outcome.pvalue) if discordant else 1.0,
            )
        )
    return ModelAgreement(n_pairs=n, rates=rates, mcnemar=tests)
