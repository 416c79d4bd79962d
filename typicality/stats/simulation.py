"""Synthetic rated data with a known alpha: the paper's annotator model, for validating the estimator.

Per prompt p and response i (all draws independent unless stated):
- prompt offset mu_p ~ N(-2.2, 0.5) (base models give raw text a mean log-prob near -2);
- length: log n_i ~ N(log 80, 0.7); z_len = standardised log length;
- typicality: mean_logprob_i = mu_p + 0.15 z_len + typicality_sd * e_i, e_i ~ N(0, 1) (longer
  text reads as more typical: the length confound); sum_logprob = mean_logprob * n_tokens. The
  default typicality_sd = 0.8 gives SD(delta-l) ~ 1.15, between the SDs implied by the paper's
  table (0.62 on the equal-correctness slice, 1.29 on all pairs: ln(OR per SD) / alpha);
- true quality: q*_i = 0.5 e_i + 0.4 z_len + u_i, u_i ~ N(0, 1), cut at its quintiles into the
  `correctness` rating 0-4: quality is correlated with typicality and length, and correctness
  *is* true quality (r_true = quality_effect * correctness);
- the annotator's score: helpfulness_i = r_true_i + alpha * mean_logprob_i + g_i, g_i ~ Gumbel(0, 1).
  The difference of two Gumbel draws is logistic, so for any two responses to one prompt
  P(i preferred over j) = sigmoid(r_true_i - r_true_j + alpha * (l_i - l_j)) exactly: the
  paper's Bradley-Terry model. Pairs are every within-prompt pair, judged by helpfulness.

`correctness_noise=s` (None by default) makes the observed correctness a *proxy*: true quality is
continuous, r_true = quality_effect * q, q = sqrt(2) * q*/SD(q*) + 2 (the scale of the 0-4
index: same mean and SD), and the `correctness` rating is the quintile of q* + s * SD(q*) * N(0, 1).
s = 0 is a coarse but exact-rank proxy; larger s adds measurement error. The adjusted and
equal-correctness fits then leave part of quality uncontrolled, and since quality rides on
typicality, alpha is biased upward (docs/validity.md gives the measured bias).

`helpfulness` is continuous by default (no ties, exactly the paper's model). With
`rating_levels=L` it is cut at its quantiles into 0..L-1, like a HelpSteer 0-4 scale; ties then
appear and the coarsening makes the logit only approximately right.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from typicality.domain import ANNOTATOR_COLUMN, Accounting, PreferenceData, ScoreResult, prompt_id_for, response_id_for
from typicality.errors import TypicalityError, require_type
from typicality.results import ScoreCard

QUALITY_CUTS = np.array([-0.8416, -0.2533, 0.2533, 0.8416])  # standard normal quintiles
QUALITY_SD = math.sqrt(0.5**2 + 0.4**2 + 1.0)
GROUP_STREAM = 0x67  # the seed sequence's second word for the group slopes' generator


def simulate(
    alpha: float,
    prompts: int,
    responses_per_prompt: int,
    seed: int = 0,
    *,
    quality_effect: float = 1.0,
    typicality_sd: float = 0.8,
    rating_levels: int | None = None,
    correctness_noise: float | None = None,
    groups: int | None = None,
    group_sd: float = 0.0,
) -> tuple[PreferenceData, ScoreResult]:
    """A rated dataset whose annotators prefer typicality with the given alpha, and its scores table."""
    for name, value, kinds, expected in (("alpha", alpha, (int, float, np.integer, np.floating), "a number"),
                                         ("prompts", prompts, (int, np.integer), "a whole number"),
                                         ("responses_per_prompt", responses_per_prompt, (int, np.integer), "a whole number"),
                                         ("seed", seed, (int, np.integer), "a whole number")):
        require_type("simulate", name, value, kinds, expected)
    if not math.isfinite(alpha):
        raise TypicalityError(f"--alpha must be a finite number, got {alpha}.")
    if prompts < 1:
        raise TypicalityError(f"--prompts must be at least 1, got {prompts}.")
    if responses_per_prompt < 2:
        raise TypicalityError(f"--responses-per-prompt must be at least 2 (a pair needs two), got {responses_per_prompt}.")
    if rating_levels is not None and rating_levels < 2:
        raise TypicalityError(f"--rating-levels must be at least 2, got {rating_levels}.")
    if correctness_noise is not None and not (math.isfinite(correctness_noise) and correctness_noise >= 0):
        raise TypicalityError(f"--correctness-noise must be a number >= 0, got {correctness_noise}.")
    if groups is not None and not 1 <= groups <= prompts:
        raise TypicalityError(f"--groups must be between 1 and the number of prompts ({prompts}), got {groups}.")
    if not (math.isfinite(group_sd) and group_sd >= 0):
        raise TypicalityError(f"--group-sd must be a number >= 0, got {group_sd}.")
    if group_sd and groups is None:
        raise TypicalityError("--group-sd needs --groups N (the number of annotators to draw a slope for).")
    rng = np.random.default_rng(seed)
    slopes = None
    if groups is not None:
        # The group slopes come from a stream of their own, so that the rest of the draws (and every
        # dataset simulated without groups) are the same with or without --groups.
        slopes = alpha + group_sd * np.random.default_rng((seed, GROUP_STREAM)).normal(size=groups)
    group_of_prompt = np.arange(prompts) % groups if groups is not None else None
    drawn = draw_responses(
        rng, prompts, responses_per_prompt, alpha if slopes is None else np.repeat(slopes[group_of_prompt], responses_per_prompt),
        quality_effect=quality_effect, typicality_sd=typicality_sd, correctness_noise=correctness_noise,
    )
    prompt_index, n_tokens, mean_logprob = drawn["prompt_index"], drawn["n_tokens"], drawn["mean_logprob"]
    correctness, helpfulness = drawn["correctness"], drawn["helpfulness"]
    if rating_levels is not None:
        helpfulness = pd.qcut(helpfulness, rating_levels, labels=False).astype(float)

    settings = (
        f"alpha={alpha}, prompts={prompts}, responses_per_prompt={responses_per_prompt}, seed={seed}, "
        f"quality_effect={quality_effect}, typicality_sd={typicality_sd}, rating_levels={rating_levels}"
        + (f", correctness_noise={correctness_noise}" if correctness_noise is not None else "")
        + (f", groups={groups}, group_sd={group_sd}" if groups is not None else "")
    )
    quality_note = "correctness is the true quality" if correctness_noise is None else "correctness is a noisy quintile of continuous true quality"

    # The settings are part of every prompt's text, so ids (hashes of the texts) are unique to the simulation:
    # two simulations with other seeds or parameters share no prompt or response ids and never pass for the same pairs.
    prompt_texts = [f"Simulated prompt {p} of typicality.simulate({settings})." for p in range(prompts)]
    prompt_ids = np.array([prompt_id_for(text) for text in prompt_texts], dtype=object)
    response_texts = [f"Simulated response {i % responses_per_prompt} to prompt {p}." for i, p in enumerate(prompt_index)]
    response_ids = np.array([response_id_for(prompt_texts[p], text) for p, text in zip(prompt_index, response_texts)], dtype=object)
    responses = pd.DataFrame(
        {
            "prompt_id": prompt_ids[prompt_index],
            "prompt": [prompt_texts[p] for p in prompt_index],
            "response_id": response_ids,
            "response": response_texts,
            "helpfulness": helpfulness,
            "correctness": correctness,
        }
    )
    # Every within-prompt pair (i < j in row order) judged by helpfulness: what
    # typicality.data.build.from_ratings does (a test checks they agree), vectorised because
    # the validation tests simulate a thousand datasets.
    rows_a, rows_b = within_prompt_pairs(prompts, responses_per_prompt)
    label = np.where(helpfulness[rows_a] > helpfulness[rows_b], 1.0, np.where(helpfulness[rows_a] < helpfulness[rows_b], 0.0, 0.5))
    comparisons = pd.DataFrame(
        {"prompt_id": prompt_ids[prompt_index[rows_a]], "response_a": response_ids[rows_a], "response_b": response_ids[rows_b], "label": label}
    )
    if groups is not None:  # who judged each pair: every pair of a prompt by the prompt's annotator
        comparisons[ANNOTATOR_COLUMN] = group_names(groups)[group_of_prompt[prompt_index[rows_a]]]
    data = PreferenceData(
        name="simulated",
        responses=responses,
        comparisons=comparisons,
        accounting=Accounting(rows_read=len(prompt_index), notes=[f"Simulated by typicality.simulate({settings}); {quality_note}."]),
        kind="rated",
        rating_columns=["helpfulness", "correctness"],
        correctness="correctness",
        preference="higher helpfulness rating",
        preference_rating="helpfulness",
        source=f"typicality.simulate({settings})",
    )
    scores = pd.DataFrame(
        {
            "prompt_id": responses["prompt_id"],
            "response_id": response_ids,
            "n_tokens": n_tokens,
            "sum_logprob": mean_logprob * n_tokens,
            "mean_logprob": mean_logprob,
            "truncated": False,
            "prompt_truncated": False,
            "boundary_merged": False,
            "skipped": None,
            "model": f"simulated({settings})",
        }
    )
    # What `typicality score` would record about its model, so reports name this one.
    true_group_alphas = dict(zip(group_names(groups).tolist(), slopes.tolist())) if slopes is not None else None
    card = ScoreCard(model="simulated", fingerprint=f"simulated({settings})", true_alpha=alpha, settings=settings, true_group_alphas=true_group_alphas)
    return data, ScoreResult(scores, card)


def draw_responses(
    rng: np.random.Generator,
    prompts: int,
    responses_per_prompt: int,
    alpha,
    *,
    quality_effect: float = 1.0,
    typicality_sd: float = 0.8,
    correctness_noise: float | None = None,
) -> dict[str, np.ndarray]:
    """The numbers of the module docstring's model, response by response (prompt p's responses are consecutive rows).

    `alpha` is one number, or one per response (the slope of the annotator who judges that prompt).
    """
    n = prompts * responses_per_prompt
    prompt_index = np.repeat(np.arange(prompts), responses_per_prompt)
    offset = rng.normal(-2.2, 0.5, size=prompts)[prompt_index]
    log_tokens = rng.normal(math.log(80), 0.7, size=n)
    n_tokens = np.maximum(1, np.round(np.exp(log_tokens))).astype(int)
    z_len = (np.log(n_tokens) - math.log(80)) / 0.7
    noise = rng.normal(size=n)
    mean_logprob = offset + 0.15 * z_len + typicality_sd * noise
    latent_quality = 0.5 * noise + 0.4 * z_len + rng.normal(size=n)
    correctness = np.searchsorted(QUALITY_CUTS * QUALITY_SD, latent_quality).astype(float)
    true_quality = correctness
    if correctness_noise is not None:
        # Quality itself is continuous; the rating only sees a noisy quintile of it.
        true_quality = math.sqrt(2.0) * latent_quality / QUALITY_SD + 2.0
        observed = latent_quality + correctness_noise * QUALITY_SD * rng.normal(size=n)
        observed_sd = QUALITY_SD * math.sqrt(1.0 + correctness_noise**2)
        correctness = np.searchsorted(QUALITY_CUTS * observed_sd, observed).astype(float)
    helpfulness = quality_effect * true_quality + alpha * mean_logprob + rng.gumbel(0.0, 1.0, size=n)
    return {"prompt_index": prompt_index, "n_tokens": n_tokens, "mean_logprob": mean_logprob, "correctness": correctness, "helpfulness": helpfulness}


def within_prompt_pairs(prompts: int, responses_per_prompt: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (a, b) of every within-prompt pair, i < j in row order, prompt by prompt."""
    first, second = np.triu_indices(responses_per_prompt, k=1)
    base = (np.arange(prompts) * responses_per_prompt)[:, None]
    return (base + first).ravel(), (base + second).ravel()


def group_names(groups: int) -> np.ndarray:
    """The simulated annotators' ids: annotator-001, annotator-002, ..."""
    width = max(3, len(str(groups)))
    return np.array([f"annotator-{g + 1:0{width}d}" for g in range(groups)], dtype=object)
