"""The paper's published alphas, drawn as reference marks and quoted in the method notes.

Source: Zhang et al. 2025, "Verbalized Sampling: How to Mitigate Mode Collapse and Unlock LLM
Diversity" (arXiv 2510.01171), section 3, table "mc-alpha"; HelpSteer v1 train split, mean
per-token log-likelihood, logit with standard errors clustered by prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = 'Zhang et al. 2025, "Verbalized Sampling" (arXiv 2510.01171), section 3, table "mc-alpha"'
SOURCE_URL = "https://arxiv.org/abs/2510.01171"


@dataclass(frozen=True)
class PublishedAlpha:
    """One row of the paper's table: a base model's alpha on one HelpSteer slice."""

    base_model: str
    slice: str
    alpha: float
    se: float
    odds_ratio_per_sd: float
    win_prob_change: float
    n_pairs: int


PUBLISHED_ALPHAS: tuple[PublishedAlpha, ...] = (
    PublishedAlpha("Llama 3.1 405B Base", "equal correctness", 0.569, 0.073, 1.42, 0.17, 6874),
    PublishedAlpha("Llama 3.1 405B Base", "adjusted", 0.456, 0.048, 1.80, 0.28, 28283),
    PublishedAlpha("GLM 4.5 Base", "equal correctness", 0.649, 0.072, 1.47, 0.19, 6874),
    PublishedAlpha("GLM 4.5 Base", "adjusted", 0.489, 0.048, 1.83, 0.29, 28283),
)

# The paper's agreement rates (share of pairs whose preferred response is the more typical one),
# ranges over five base models, 2,500 sampled pairs per dataset.
PUBLISHED_AGREEMENT: tuple[tuple[str, float, float], ...] = (
    ("UltraFeedback", 0.575, 0.602),
    ("HelpSteer", 0.562, 0.608),
    ("Skywork preferences", 0.588, 0.617),
    ("TL;DR summaries", 0.516, 0.564),
)
