"""The same pairs, different labels (label sources): do the sources agree, and does alpha depend on who judged?

Examples: mt-bench-human's human votes and its GPT-4 judge on the same model pairs; PKU-SafeRLHF's
`better` and `safer` judgements of the same two responses.

- The pairs: those every source judged (by their two response ids, whatever the orientation),
  each source's judgements oriented as the first source's data shows the pair (its response_a
  first, before the audit's random orientation; a flip turns label y into 1 - y and Δℓ, and
  every control, into its negative). A source that judged a
  pair several times (several annotators) contributes every judgement.
- One joint fit: every source's rows stacked, the label regressed on Δℓ plus Δℓ × source (and
  each control and each control × source; the paper's construction adds an intercept and
  intercept × source), no intercept otherwise, ONE sandwich clustered by prompt over the
  stacked rows. The coefficient of Δℓ × source k is alpha_k − alpha_first, the difference in
  alpha; each source's alpha is its separate fit's on these rows (every term is interacted,
  so the fit is the separate fits side by side); the clustered covariance holds the
  covariance between sources (the same pairs, the same prompts), so the difference gets the
  right SE. Normal reference, as in the model comparison (stats/compare/models.py says why).
- Label agreement: each source's label per shared pair (several judgements: their mean, read as
  a preferred, b preferred or tie), the share of pairs where two sources differ, and Cohen's
  kappa (statsmodels' `cohens_kappa`, with its asymptotic SE and 95% CI).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import chi2
from statsmodels.stats.inter_rater import cohens_kappa

from typicality.comparison_results import Equality, FitSpec, LabelAgreement, LabelComparison, SourceAlpha, SourceDifference, SourceJointFit
from typicality.errors import TypicalityError
from typicality.results import Estimate
from typicality.stats.compare.inputs import ComparedAudit, pair_key
from typicality.stats.compare.models import paper_construction
from typicality.stats.pair_design import TYPICALITY_COLUMNS, control_column, select_slice
from typicality.stats.pairwise_logit import PairwiseLogit

CATEGORIES = (1.0, 0.0, 0.5)  # a preferred, b preferred, tie
CATEGORY_NAMES = {1.0: "a", 0.0: "b", 0.5: "tie"}


def compare_label_sources(audits: list[ComparedAudit], spec: Estimate) -> LabelComparison:
    """The label-source comparison's content for comparison.json."""
    labels = [item.label for item in audits]
    controls = [control_column(name) for name in spec.controls]
    frames, judged = shared_judgements(audits, spec)
    keys = frames[0]["key"].unique()
    return LabelComparison(
        typicality=spec.typicality,
        spec=FitSpec(slice=spec.slice, typicality=spec.typicality, controls=spec.controls),
        n_pairs=int(len(keys)),
        n_prompts=int(frames[0].drop_duplicates("key")["prompt_id"].nunique()),
        n_judgements={label: int(len(frame)) for label, frame in zip(labels, frames)},
        n_pairs_judged=dict(zip(labels, judged)),  # each source's distinct pairs in the slice, shared or not
        joint_fit=interaction_fit(frames, labels, controls, spec.controls, intercept=paper_construction(audits)),
        agreement=label_agreement(frames, labels),
    )


def shared_judgements(audits: list[ComparedAudit], spec: Estimate) -> tuple[list[pd.DataFrame], list[int]]:
    """Each source's judgements of the pairs every source judged, oriented as the first source's data shows them,
    and the number of distinct pairs each source judged in the slice.

    Columns: key, prompt_id, label, delta (the spec's typicality) and one column per control; complete rows only.
    """
    delta_column = TYPICALITY_COLUMNS[spec.typicality]
    controls = [control_column(name) for name in spec.controls]
    frames = []
    for item in audits:
        rows = select_slice(item.pairs, spec.slice).copy()
        rows["key"] = pair_key(rows).to_numpy()
        frames.append(rows)
    common = set(frames[0]["key"])
    for frame in frames[1:]:
        common &= set(frame["key"])
    if not common:
        raise TypicalityError(
            f"A label-source comparison needs pairs judged by every source, but {', '.join(item.label for item in audits)} share none "
            f"in slice '{spec.slice}': compare different data as datasets (--kind datasets)."
        )
    # The source's own orientation (pairs.parquet's `flipped` undoes the audit's random one): the a and b the annotators saw,
    # which Cohen's kappa needs (swapping a and b in some pairs changes the label margins, so kappa, though not the fit).
    first = frames[0].drop_duplicates("key")
    flipped = first["flipped"].astype(bool) if "flipped" in first else False
    reference = pd.Series(np.where(flipped, first["response_b"], first["response_a"]), index=first["key"].to_numpy())
    out = []
    for frame in frames:
        rows = frame[frame["key"].isin(common)]
        flip = rows["response_a"].to_numpy() != reference.loc[rows["key"]].to_numpy()
        sign = np.where(flip, -1.0, 1.0)
        label = rows["label"].to_numpy(dtype=float)
        oriented = pd.DataFrame(
            {
                "key": rows["key"].to_numpy(),
                "prompt_id": rows["prompt_id"].astype(str).to_numpy(),
                "label": np.where(flip, 1.0 - label, label),
                "delta": sign * rows[delta_column].to_numpy(dtype=float),
            }
        )
        for column in controls:
            oriented[column] = sign * rows[column].to_numpy(dtype=float)
        out.append(oriented[oriented[["label", "delta", *controls]].notna().all(axis=1)].sort_values("key", kind="stable").reset_index(drop=True))
    return out, [int(frame["key"].nunique()) for frame in frames]


def interaction_design(frames: list[pd.DataFrame], control_columns: list[str], intercept: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """y, X and prompt groups of the stacked fit: Δℓ, then Δℓ × source k (k ≥ 1), then each control (and intercept) likewise."""
    k = len(frames)
    y = np.concatenate([frame["label"].to_numpy(dtype=float) for frame in frames])
    source = np.concatenate([np.full(len(frame), index) for index, frame in enumerate(frames)])
    terms = ["delta", *control_columns] + (["intercept"] if intercept else [])
    columns, names = [], []
    for term in terms:
        values = np.ones(len(y)) if term == "intercept" else np.concatenate([frame[term].to_numpy(dtype=float) for frame in frames])
        columns.append(values)
        names.append(term)
        for index in range(1, k):
            columns.append(values * (source == index))
            names.append(f"{term} × source[{index}]")
    prompts = pd.factorize(np.concatenate([frame["prompt_id"].to_numpy(dtype=object) for frame in frames]))[0]
    return y, np.column_stack(columns), prompts, names


def interaction_fit(
    frames: list[pd.DataFrame], labels: list[str], control_columns: list[str], control_names: list[str], *, intercept: bool = False
) -> SourceJointFit:
    """Alpha per source and every difference, from one stacked fit with the source × Δℓ interaction and one prompt-clustered sandwich."""
    k = len(labels)
    y, X, groups, names = interaction_design(frames, control_columns, intercept)
    results = PairwiseLogit.from_arrays(y, X, groups, names).fit(use_t=False)
    per_source = []  # alpha_k as a contrast: Δℓ plus (for k ≥ 1) Δℓ × source k, the columns 0 and k
    for index in range(k):
        contrast = np.zeros(X.shape[1])
        contrast[0] = 1.0
        if index:
            contrast[index] = 1.0
        per_source.append(contrast)
    alphas = []
    for label, contrast in zip(labels, per_source):
        test = results.wald(contrast)
        alphas.append(
            SourceAlpha(source=label, alpha=test["effect"], se=test["se"], ci_low=test["ci_low"], ci_high=test["ci_high"], p_value=test["p_value"])
        )
    differences = []
    for i, j in itertools.combinations(range(k), 2):
        test = results.wald(per_source[j] - per_source[i])  # alpha_j - alpha_i; for i = 0 the interaction coefficient itself
        differences.append(
            SourceDifference(
                sources=[labels[i], labels[j]],
                term=names[j] if i == 0 else None,
                difference=test["effect"],
                se=test["se"],
                ci_low=test["ci_low"],
                ci_high=test["ci_high"],
                z=test["statistic"],
                p_value=test["p_value"],
                se_if_independent=float(np.hypot(alphas[i].se, alphas[j].se)),
            )
        )
    equality = None
    if k > 2:  # no interaction: all K - 1 interaction coefficients zero at once
        restriction = np.eye(X.shape[1])[1:k]
        difference = restriction @ results.params
        statistic = float(difference @ np.linalg.solve(restriction @ results.cov @ restriction.T, difference))
        equality = Equality(chi2=statistic, df=k - 1, p_value=float(chi2.sf(statistic, k - 1)))
    return SourceJointFit(
        alphas=alphas,
        differences=differences,
        terms=names,
        controls=list(control_names),
        n_rows=int(len(y)),
        n_clusters=int(groups.max() + 1),
        converged=bool(results.converged),
        equality=equality,
    )


def pair_labels(frame: pd.DataFrame) -> pd.Series:
    """One label per pair (key): its judgements' mean, read as 1 (a preferred), 0 (b preferred) or 0.5 (tie)."""
    mean = frame.groupby("key")["label"].mean()
    return pd.Series(np.where(mean > 0.5, 1.0, np.where(mean < 0.5, 0.0, 0.5)), index=mean.index)


def label_agreement(frames: list[pd.DataFrame], labels: list[str]) -> list[LabelAgreement]:
    """Every two sources: the share of shared pairs they label differently, the 3 × 3 table and Cohen's kappa."""
    per_pair = [pair_labels(frame) for frame in frames]
    rows = []
    for i, j in itertools.combinations(range(len(labels)), 2):
        first, second = per_pair[i].align(per_pair[j], join="inner")
        table = np.array([[np.sum((first == a) & (second == b)) for b in CATEGORIES] for a in CATEGORIES])
        used = [index for index, category in enumerate(CATEGORIES) if table[index].sum() or table[:, index].sum()]
        kappa = cohens_kappa(table[np.ix_(used, used)]) if len(used) > 1 else None
        if kappa is not None and not all(np.isfinite(kappa[name]) for name in ("kappa", "std_kappa")):
            kappa = None  # every pair in one category for one source: chance agreement is 1 and kappa undefined
        differ = int(np.sum(first.to_numpy() != second.to_numpy()))
        rows.append(
            LabelAgreement(
                sources=[labels[i], labels[j]],
                n_pairs=int(len(first)),
                n_differ=differ,
                share_differ=differ / len(first) if len(first) else None,
                categories=[CATEGORY_NAMES[c] for c in CATEGORIES],
                table=table.astype(int).tolist(),  # rows: first source's label (a, b, tie); columns: second source's
                kappa=float(kappa["kappa"]) if kappa is not None else None,
                kappa_se=float(kappa["std_kappa"]) if kappa is not None else None,
                kappa_ci_low=float(kappa["kappa_low"]) if kappa is not None else None,
                kappa_ci_high=float(kappa["kappa_upp"]) if kappa is not None else None,
            )
        )
    return rows
