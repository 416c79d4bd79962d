"""What a referee asks of alpha: the pieces `analysis.analyze` adds after the robustness set (docs/validity.md explains each).

- tie-aware rows (estimator "rao-kupper", stats/ties.py) and `ties` when the data has ties
  (`design_with_ties` builds the same pairs with ties kept);
- `headline.alpha_change` completed with a prompt-cluster bootstrap CI (`alpha_change_with_interval`);
- `interpretation`: whether the headline is a bias estimate controlled for a named quality rating
  or an association without quality control, with the sentence to say (`interpretation`);
- the fluency negative control (stats/negative_control.py), E-values (stats/sensitivity.py) and
  Holm across the robustness set (stats/multiplicity.py) are called by `analyze` directly.
"""

from __future__ import annotations

from typicality.domain import PairDesign
from typicality.results import FEW_PROMPTS, AlphaChange, Estimate, Interpretation, is_quality_controlled
from typicality.stats.length_change import alpha_change_interval
from typicality.stats.pair_design import EQUAL_CORRECTNESS, build_pairs
from typicality.stats.ties import MIN_TIES

BIAS, ASSOCIATION = "bias", "association"


def design_with_ties(design: PairDesign, data, scores, seed: int) -> PairDesign | None:
    """The same pairs with ties kept (label 0.5), or None when the data has too few ties to matter."""
    if design.ties == "half":
        candidate = design
    else:
        dropped = design.accounting.n_dropped("tie (ties='drop')") if design.accounting is not None else 0
        if dropped < MIN_TIES or data is None or scores is None:
            return None
        if design.construction == "paper":
            from typicality.stats.paper_pairs import build_paper_pairs

            candidate = build_paper_pairs(data, scores, ties="half")
        else:
            candidate = build_pairs(data, scores, seed=seed, ties="half")
    return candidate if int((candidate.frame["label"] == 0.5).sum()) >= MIN_TIES else None


def alpha_change_with_interval(change: AlphaChange | None, design: PairDesign, source: Estimate | None, draws: int, seed: int) -> AlphaChange | None:
    """The headline's change in alpha with its prompt-cluster bootstrap (se, CI, draws), when draws > 0."""
    if change is None or draws <= 0 or source is None:
        return change
    return change.replace(
        **alpha_change_interval(design, source, draws, seed),
        note=(
            "alpha with the length control minus alpha without it, on the same pairs; the CI is a prompt-cluster bootstrap of the "
            "difference. A logit coefficient can move when a control is added even without confounding (non-collapsibility)."
        ),
    )


def interpretation(headline: Estimate | None, quality: str | None) -> Interpretation:
    """What the headline alpha means: a bias estimate controlled for a quality rating, or an association."""
    controlled = quality is not None and is_quality_controlled(headline, quality)
    n_prompts = headline.n_clusters if headline else 0
    few_prompts = headline is not None and 0 < n_prompts < FEW_PROMPTS
    ci_note = (
        f"only {n_prompts} prompts: the 95% CI uses t with {n_prompts - 1} degrees of freedom and a clustered SE, "
        "which is approximate with so few prompts; read it as a rough range"
    ) if few_prompts else None
    common = {"estimate": headline.id if headline else None, "few_prompts": few_prompts, "ci_note": ci_note}
    if controlled:
        how = "within pairs of equal " + quality if headline.slice == EQUAL_CORRECTNESS else f"adjusted for Δ {quality}"
        return Interpretation(
            kind=BIAS,
            quality_control=quality,
            label=f"bias estimate controlled for {quality}",
            statement=(
                f"alpha is a typicality-bias estimate controlled for {quality} ({how}): annotators prefer the more typical response "
                f"beyond what {quality} measures. It is free of quality confounding only as far as {quality} measures quality; "
                "the sensitivity analysis says how strong a confounder it misses would have to be."
            ),
            **common,
        )
    return Interpretation(
        kind=ASSOCIATION,
        quality_control=None,
        label="association (no quality control: preference and typicality may share quality)",
        statement=(
            "alpha is an association, not a bias estimate: this data has no quality rating to control for, so better responses "
            "may be both preferred and more typical. In simulation a true alpha of 0.5 is estimated at about 0.87 without a "
            "quality control (docs/validity.md)."
        ),
        **common,
    )
