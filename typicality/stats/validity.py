"""What a referee asks of alpha, added to results.json in one call (`add_validity`, from analysis.analyze).

Keys it adds or completes (the report only words them; docs/validity.md explains each):
- `estimates`: tie-aware rows (estimator "rao-kupper", stats/ties.py) when the data has ties;
  negative-control rows (estimator "prompt-specific", "unconditional") when unconditional
  scores are given; every fitted estimate but the headline gets `p_holm`.
- `ties`: tie share and each tie-dropping fit beside its tie-aware twin.
- `negative_control`: the fluency negative control (scores without the prompt), when given.
- `headline.alpha_change`: completed with a prompt-cluster bootstrap CI (ci_low, ci_high, se, n_draws).
- `interpretation` (top level): whether the headline is a bias estimate controlled for a named
  quality rating or an association without quality control, with the sentence to say.
- `sensitivity`: E-values of the headline's odds ratio per SD (stats/sensitivity.py).
- `multiplicity`: Holm across the robustness set, the headline named as pre-specified.
"""

from __future__ import annotations

from typicality.domain import PairDesign
from typicality.stats.length_change import alpha_change_interval
from typicality.stats.multiplicity import holm_adjust
from typicality.stats.negative_control import negative_control
from typicality.stats.pair_design import EQUAL_CORRECTNESS, build_pairs
from typicality.stats.records import FEW_PROMPTS, estimate_record, headline_id, headline_record, is_quality_controlled
from typicality.stats.sensitivity import sensitivity
from typicality.stats.ties import MIN_TIES, tie_aware_estimates, ties_summary

BIAS, ASSOCIATION = "bias", "association"


def add_validity(content: dict, design: PairDesign, data, scores, *, seed: int = 0, change_draws: int = 200, unconditional=None) -> None:
    """Complete results.json content in place (see the module docstring)."""
    estimates = content["estimates"]
    design_with_ties = _design_with_ties(design, data, scores, seed)
    if design_with_ties is not None:
        estimates.extend(e.to_dict() for e in tie_aware_estimates(design_with_ties, estimates))
        content["ties"] = ties_summary(design_with_ties, estimates)
    if unconditional is not None:
        rows, summary = negative_control(design, unconditional, content)
        estimates.extend(rows)
        content["negative_control"] = summary
    headline = headline_record(content)
    _complete_alpha_change(content, design, estimates, change_draws, seed)
    content["interpretation"] = interpretation(headline, design.correctness)
    content["sensitivity"] = sensitivity(headline if headline and headline.get("fitted") else None)
    content["multiplicity"] = holm_adjust(estimates, headline_id(content))


def _design_with_ties(design: PairDesign, data, scores, seed: int) -> PairDesign | None:
    """The same pairs with ties kept (label 0.5), or None when the data has too few ties to matter."""
    if design.ties == "half":
        candidate = design
    else:
        dropped = (design.accounting or {}).get("dropped", {}).get("tie (ties='drop')", 0)
        if dropped < MIN_TIES or data is None or scores is None:
            return None
        if design.construction == "paper":
            from typicality.stats.paper_pairs import build_paper_pairs

            candidate = build_paper_pairs(data, scores, ties="half")
        else:
            candidate = build_pairs(data, scores, seed=seed, ties="half")
    return candidate if int((candidate.frame["label"] == 0.5).sum()) >= MIN_TIES else None


def _complete_alpha_change(content: dict, design: PairDesign, estimates: list[dict], draws: int, seed: int) -> None:
    change = (content.get("headline") or {}).get("alpha_change")
    if not change or draws <= 0:
        return
    source = estimate_record(content, change["from"])
    if source is None:
        return
    change.update(alpha_change_interval(design, source, draws, seed))
    change["note"] = (
        "alpha with the length control minus alpha without it, on the same pairs; the CI is a prompt-cluster bootstrap of the "
        "difference. A logit coefficient can move when a control is added even without confounding (non-collapsibility)."
    )


def interpretation(headline: dict | None, quality: str | None) -> dict:
    """What the headline alpha means: a bias estimate controlled for a quality rating, or an association."""
    controlled = quality is not None and is_quality_controlled(headline, quality)
    n_prompts = (headline or {}).get("n_clusters") or 0
    if controlled:
        how = "within pairs of equal " + quality if headline["slice"] == EQUAL_CORRECTNESS else f"adjusted for Δ {quality}"
        record = {
            "kind": BIAS,
            "quality_control": quality,
            "label": f"bias estimate controlled for {quality}",
            "statement": (
                f"alpha is a typicality-bias estimate controlled for {quality} ({how}): annotators prefer the more typical response "
                f"beyond what {quality} measures. It is free of quality confounding only as far as {quality} measures quality; "
                "the sensitivity analysis says how strong a confounder it misses would have to be."
            ),
        }
    else:
        record = {
            "kind": ASSOCIATION,
            "quality_control": None,
            "label": "association (no quality control: preference and typicality may share quality)",
            "statement": (
                "alpha is an association, not a bias estimate: this data has no quality rating to control for, so better responses "
                "may be both preferred and more typical. In simulation a true alpha of 0.5 is estimated at about 0.87 without a "
                "quality control (docs/validity.md)."
            ),
        }
    record["estimate"] = headline["id"] if headline else None
    record["few_prompts"] = bool(headline) and 0 < n_prompts < FEW_PROMPTS
    if record["few_prompts"]:
        record["ci_note"] = (
            f"only {n_prompts} prompts: the 95% CI uses t with {n_prompts - 1} degrees of freedom and a clustered SE, "
            "which is approximate with so few prompts; read it as a rough range"
        )
    return record
