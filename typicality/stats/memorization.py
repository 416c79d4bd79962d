"""Memorized responses: text the reference model reproduces almost token for token.

A response whose mean per-token probability under the reference model is at or above 0.7
(exp(mean log-prob) >= 0.7, i.e. mean log-prob >= log 0.7 = -0.357) is flagged as likely
memorized: boilerplate, quotations, text the base model saw in training. The authors of the
typicality analysis separate these, since "typical" then means "seen before" rather than
"familiar in style". The audit counts them and fits the headline once more without every pair
that holds one (the slice `not-memorized`), as a robustness row in results.json's `estimates`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from typicality.domain import PairDesign
from typicality.stats.pair_design import ALL_PAIRS
from typicality.stats.typicality_bias import Estimate, fit_logit

MEMORIZED_PROBABILITY = 0.7
MEMORIZED_MEAN_LOGPROB = math.log(MEMORIZED_PROBABILITY)
NOT_MEMORIZED = "not-memorized"


def is_memorized(mean_logprob) -> np.ndarray:
    """True where exp(mean log-prob) >= 0.7; a missing score is not memorized."""
    values = np.nan_to_num(np.asarray(mean_logprob, dtype=float), nan=-np.inf)
    return values >= MEMORIZED_MEAN_LOGPROB  # the same test as exp(mean) >= 0.7, exact at the boundary


def memorized_pairs(frame: pd.DataFrame) -> np.ndarray:
    """Pairs (rows of a pair design) with at least one memorized response."""
    return is_memorized(frame["mean_logprob_a"]) | is_memorized(frame["mean_logprob_b"])


def not_memorized_slice(base: str) -> str:
    """The slice name of `base` without memorized pairs: `not-memorized` for all pairs, `BASE+not-memorized` otherwise."""
    return NOT_MEMORIZED if base == ALL_PAIRS else f"{base}+{NOT_MEMORIZED}"


def base_slice(name: str) -> str | None:
    """`not-memorized` -> all, `BASE+not-memorized` -> BASE; None for a slice that is not a not-memorized one."""
    if name == NOT_MEMORIZED:
        return ALL_PAIRS
    suffix = f"+{NOT_MEMORIZED}"
    return name[: -len(suffix)] if name.endswith(suffix) else None


def memorization_summary(design: PairDesign, scores: pd.DataFrame | None = None) -> dict:
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
    return summary


def not_memorized_estimate(design: PairDesign, headline: dict, mask: np.ndarray) -> Estimate:
    """The headline fit again (same slice, typicality and controls) without the pairs that hold a memorized response.

    `mask`: the headline slice's rows of `design.frame`.
    """
    keep = mask & ~memorized_pairs(design.frame)
    estimate, _ = fit_logit(
        design.frame[keep], not_memorized_slice(headline["slice"]), headline["typicality"], list(headline.get("controls") or []),
        quality=design.correctness, intercept=design.construction == "paper",  # as the headline was fitted
    )
    return estimate


def add_memorization(content: dict, design: PairDesign, scores: pd.DataFrame | None = None) -> None:
    """Put `memorized` into results.json's content and, when some pairs hold a memorized response, the not-memorized robustness fit.

    The fit is added to the default robustness set only (no --controls or --slice given).
    """
    from typicality.stats.pair_design import slice_mask

    summary = memorization_summary(design, scores)
    summary["estimate"] = None
    headline_id = (content.get("headline") or {}).get("estimate")
    headline = next((record for record in content.get("estimates") or [] if record.get("id") == headline_id), None)
    # Part of the default robustness set; a user who names the slices or controls gets exactly those fits.
    settings = content.get("settings") or {}
    default_set = settings.get("controls") is None and settings.get("slices") is None
    if summary["n_pairs_with_memorized"] and headline is not None and default_set:
        mask = slice_mask(design, headline["slice"])
        estimate = not_memorized_estimate(design, headline, mask)
        content["estimates"].append(estimate.to_dict())
        rows = design.frame[mask & ~memorized_pairs(design.frame)]
        content.setdefault("slices", {})[estimate.slice] = {"n_pairs": int(len(rows)), "n_prompts": int(rows["prompt_id"].nunique())}
        summary["estimate"] = estimate.id
    content["memorized"] = summary
