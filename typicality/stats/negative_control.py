"""The fluency negative control: typicality given the prompt vs generic fluency of the response alone.

Mean log-likelihood given the prompt, l(y|x), mixes two things: how expected the response is
*as an answer to this prompt*, and how fluent or generic its text is anywhere (short common
words, boilerplate). Scoring each response once more with an empty prompt gives l(y), the
second part alone; the prompt-specific part is l(y|x) - l(y) (a pointwise mutual information).
Two robustness rows refit the headline's specification with Δ[l(y|x) - l(y)] and with Δl(y)
in place of Δl(y|x): if alpha lives in the unconditional row and vanishes in the
prompt-specific one, annotators reward fluency, not typicality given the question.

`unconditional_scores` scores the same responses with an empty prompt through the same
`typicality.scoring.score` (same backends, same cache: the cache key holds the empty prompt,
so the two scores never mix). An empty prompt leaves the response scored after BOS alone.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from typicality.domain import PairDesign, PreferenceData, ScoreResult
from typicality.results import Estimate, NegativeControl
from typicality.stats.scores_table import check_scores
from typicality.stats.typicality_bias import TypicalityBias

PROMPT_SPECIFIC, UNCONDITIONAL = "prompt-specific", "unconditional"


def without_prompts(data: PreferenceData) -> PreferenceData:
    """The same responses (same ids) with every prompt emptied, for scoring l(y)."""
    responses = data.responses.copy()
    responses["prompt"] = ""
    return dataclasses.replace(data, responses=responses)


def unconditional_scores(data: PreferenceData, model, *, progress: bool = True, **settings) -> ScoreResult:
    """Each response's log-likelihood without its prompt, through the same scorer and cache as `score`
    (`model` and `settings` as `typicality.scoring.score` takes them)."""
    from typicality.scoring import score  # imported here: the stats package stays free of torch

    return score(without_prompts(data), model, progress=progress, **settings)


def negative_control(design: PairDesign, unconditional, headline: Estimate | None) -> tuple[list[Estimate], NegativeControl]:
    """The two robustness rows (prompt-specific, unconditional) on the headline's specification, and results.json `negative_control`."""
    table = check_scores(unconditional).usable.drop_duplicates("response_id").set_index("response_id")["mean_logprob"]
    frame = design.frame
    unconditional_a = table.reindex(frame["response_a"].astype(str)).to_numpy(dtype=float)
    unconditional_b = table.reindex(frame["response_b"].astype(str)).to_numpy(dtype=float)
    delta_unconditional = unconditional_a - unconditional_b
    delta_specific = frame["delta_mean_logprob"].to_numpy(dtype=float) - delta_unconditional
    if headline is None or headline.typicality != "mean_logprob":
        return [], NegativeControl(available=False, estimate=headline.id if headline else None, reason="the headline fit does not use mean typicality")
    specific = fit_on_typicality(
        design, delta_specific, headline, PROMPT_SPECIFIC, "negative control: Δ[l(y|x) - l(y)], typicality given the prompt beyond generic fluency"
    )
    generic = fit_on_typicality(design, delta_unconditional, headline, UNCONDITIONAL, "negative control: Δl(y), the response's fluency without its prompt")
    finite = np.isfinite(delta_unconditional)
    correlation = float(np.corrcoef(frame["delta_mean_logprob"].to_numpy(float)[finite], delta_unconditional[finite])[0, 1]) if finite.sum() > 2 else None
    summary = NegativeControl(
        available=True,
        estimate=headline.id,
        prompt_specific=specific.id,
        unconditional=generic.id,
        n_scored=int(finite.sum()),
        correlation=correlation,
        meaning=(
            "alpha refitted on the prompt-specific part of typicality, Δ[l(y|x) - l(y)], and on the response's fluency alone, Δl(y): "
            "a bias that survives in the first is about typicality given the question, one that lives only in the second is generic fluency."
        ),
    )
    return [specific, generic], summary


def fit_on_typicality(design: PairDesign, values: np.ndarray, estimate: Estimate, estimator: str, robustness: str) -> Estimate:
    """Refit an estimate's specification with the mean-typicality difference replaced by `values` (one per pair)."""
    frame = design.frame.copy()
    frame["delta_mean_logprob"] = values
    keep = np.isfinite(values)
    variant = design.with_frame(frame[keep].reset_index(drop=True))
    fitted = TypicalityBias("mean_logprob", list(estimate.controls), slice=estimate.slice).fit(variant).estimate_
    lost = int((~keep).sum())
    warnings = fitted.warnings + ([f"{lost} pairs lack an unconditional score and are left out."] if lost else [])
    return fitted.replace(estimator=estimator, robustness=robustness, warnings=warnings)
