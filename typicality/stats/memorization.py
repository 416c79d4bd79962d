"""Memorized responses: text the reference model reproduces almost token for token.

A response whose mean per-token probability under the reference model is at or above 0.7
(exp(mean log-prob) >= 0.7, i.e. mean log-prob >= log 0.7 = -0.357) is flagged as likely
memorized: boilerplate, quotations, text the base model saw in training. The authors of the
typicality analysis separate these, since "typical" then means "seen before" rather than
"familiar in style". The audit counts them and fits the headline once more without every pair
that holds one (the slice `not-memorized`), as a robustness row in results.json's `estimates`.
"""

from __future__ import annotations

import pandas as pd

from typicality.domain import PairDesign
from typicality.results import Estimate, Memorization
from typicality.stats.pair_design import (  # noqa: F401  (the flag is defined with the slices; re-exported here)
    MEMORIZED_MEAN_LOGPROB,
    MEMORIZED_PROBABILITY,
    NOT_MEMORIZED,
    base_slice,
    is_memorized,
    memorized_pairs,
    not_memorized_slice,
    slice_count,
)
from typicality.stats.pairwise_logit import PairwiseSpec
from typicality.stats.typicality_bias import fit_estimate


def memorization_summary(design: PairDesign, scores: pd.DataFrame | None = None) -> Memorization:
    """results.json's `memorized`: how many responses and pairs are flagged (scores: the scored responses, if given)."""
    frame = design.frame
    ids = pd.concat([frame["response_a"], frame["response_b"]], ignore_index=True)
    means = pd.concat([frame["mean_logprob_a"], frame["mean_logprob_b"]], ignore_index=True)
    in_pairs = pd.Series(means.to_numpy(), index=ids.to_numpy())
    in_pairs = in_pairs[~in_pairs.index.duplicated()]
    summary = {
        "threshold_probability": MEMORIZED_PROBABILITY,
        "threshold_mean_logprob": MEMORIZED_MEAN_LOGPROB,
        "n_responses_in_pairs": int(len(in_pairs)),
        "n_memorized_in_pairs": int(is_memorized(in_pairs.to_numpy()).sum()),
        "n_pairs": int(len(frame)),
        "n_pairs_with_memorized": int(memorized_pairs(frame).sum()),
    }
    if scores is not None and "mean_logprob" in scores.columns:
        scored = scores["mean_logprob"].dropna()
        summary["n_scored_responses"] = int(len(scored))
        summary["n_memorized_responses"] = int(is_memorized(scored.to_numpy()).sum())
    return Memorization(**summary)


def not_memorized_estimate(design: PairDesign, headline: Estimate) -> Estimate:
    """The headline fit again (same typicality and controls) on its slice without the pairs that hold a memorized response."""
    spec = PairwiseSpec.of(headline)
    return fit_estimate(design, PairwiseSpec(not_memorized_slice(spec.slice), spec.typicality, spec.controls))[0]


def memorization(design: PairDesign, scores: pd.DataFrame | None, headline: Estimate | None, *, default_set: bool) -> tuple[Memorization, Estimate | None]:
    """results.json's `memorized` and, when some pairs hold a memorized response, the not-memorized robustness fit.

    The fit belongs to the default robustness set only (`default_set`: no --controls or --slice
    given); a user who names the slices or controls gets exactly those fits.
    """
    summary = memorization_summary(design, scores)
    if not (summary.n_pairs_with_memorized and headline is not None and default_set):
        return summary, None
    estimate = not_memorized_estimate(design, headline)
    return summary.replace(estimate=estimate.id), estimate
