"""How many pairs an audit needs: power and minimum detectable alpha of the clustered logit, before paying for scores.

The closed form is Hsieh, Bloch & Larsen (1998, Statistics in Medicine 17:1623-1634) for a
logistic regression on one normally distributed covariate X tested with a Wald test:

    n = (z_{1-a/2} + z_{power})^2 / (P (1 - P) b*^2)

with b* the log odds ratio per SD of X and P the event rate at the mean of X. In an audit X is
Δℓ, pairs are oriented at random and the model has no intercept, so Δℓ has mean 0 and P = 1/2:
P (1 - P) = 1/4 and b* = alpha * SD(Δℓ), the log of the odds ratio per SD that every audit
reports. Turned around, the Wald statistic's non-centrality with n independent pairs is
lambda = b* sqrt(n P (1 - P)), and power = Phi(lambda - z) + Phi(-lambda - z) (both tails).

Three corrections turn planned comparisons into the n of that formula ("effective pairs"):
- ties: a share t of comparisons is tied and dropped (ties='drop'), leaving n (1 - t);
- controls: Hsieh's multiple-covariate rule divides the information by 1 / (1 - R^2), R^2 the
  share of Δℓ's variance explained by the controls (e.g. Δ log length);
- clustering: pairs of one prompt share responses, so their score contributions correlate;
  the clustered sandwich variance is the independent one times the design effect
  DE = 1 + (m - 1) ICC, m the (untied) pairs per prompt and ICC the intra-prompt correlation of
  the pairs' score contributions. For every pair of k responses judged with independent
  noise, ICC = (k - 2) / (3 (m - 1)) with m = k (k - 1) / 2 under the null
  (`all_pairs_icc`): two pairs sharing a response have Δℓ correlated 1/2 and outcomes
  correlated 1/3, and each pair shares a response with 2 (k - 2) others.

The formula is a large-sample, small-effect approximation: P (1 - P) is the information at
Δℓ = 0, and the average information falls short of it by a share of about (3/4) b*^2 as the
effect spreads the win probabilities (so power is overstated by ~3 points at b* = 0.3, 80%
power; strong controls such as a correctness rating spread them further). The test suite checks
it against the project's simulator at three settings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import norm

from typicality.audit_folder import AuditFolder
from typicality.display import Card, Displayed, power_plan_card
from typicality.errors import TypicalityError, require_type
from typicality.stats.pairwise_logit import PairwiseLogit, PairwiseSpec

EVENT_VARIANCE = 0.25  # P (1 - P) at P = 1/2: randomly oriented pairs, no intercept
DEFAULT_PAIR_GRID = (100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000)


@dataclass(repr=False)  # repr: its card (typicality/display.py)
class PowerPlan(Displayed):
    """A planned audit: its assumptions, its power, the pairs a target power needs, and the smallest alpha it detects."""

    alpha: float
    sd_delta: float
    pairs: int  # planned comparisons (before ties are dropped)
    pairs_per_prompt: float  # comparisons per prompt
    icc: float
    tie_share: float
    r2_controls: float
    significance: float
    target_power: float
    log_odds_ratio_per_sd: float = 0.0
    odds_ratio_per_sd: float = 0.0
    design_effect: float = 1.0
    effective_pairs: float = 0.0
    power: float = 0.0
    pairs_for_target: int | None = None  # comparisons needed for target_power (None when alpha is 0)
    prompts_for_target: int | None = None
    min_detectable_alpha: float | None = None  # at `pairs`, with target_power
    table: list[dict] = field(default_factory=list)  # power at other numbers of pairs
    source: dict = field(default_factory=dict)  # where the assumptions came from (an audit folder, or the user)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def _card(self) -> Card:
        return power_plan_card(self)

    def sentence(self) -> str:
        """The answer in one sentence."""
        head = (
            f"With {self.pairs:,} pairs ({_number(self.pairs_per_prompt)} per prompt, intra-prompt correlation {self.icc:.3f}, "
            f"{self.tie_share:.0%} ties), a true alpha of {self.alpha:.3g} (odds ratio {self.odds_ratio_per_sd:.3f} per SD of Δℓ = {self.sd_delta:.3g}) "
            f"is detected at the {self.significance:g} level with {self.power:.0%} power"
        )
        if self.pairs_for_target is None:
            need = "; no number of pairs detects an alpha of 0"
        else:
            need = f"; {self.target_power:.0%} power needs {self.pairs_for_target:,} pairs (about {self.prompts_for_target:,} prompts)"
        smallest = f", and {self.pairs:,} pairs detect alpha down to {self.min_detectable_alpha:.3g} with {self.target_power:.0%} power."
        return head + need + smallest


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def design_effect(pairs_per_prompt: float, icc: float) -> float:
    """The clustered variance over the independent one: 1 + (m - 1) ICC."""
    return 1.0 + (max(pairs_per_prompt, 1.0) - 1.0) * icc


def all_pairs_icc(responses_per_prompt: int) -> float:
    """The intra-prompt correlation of score contributions when every pair of k responses is judged (module docstring)."""
    k = int(responses_per_prompt)
    m = k * (k - 1) / 2
    return 0.0 if m <= 1 else (k - 2) / (3.0 * (m - 1.0))


def effective_pairs(pairs: float, *, pairs_per_prompt: float = 1.0, icc: float = 0.0, tie_share: float = 0.0, r2_controls: float = 0.0) -> float:
    """The independent, uncontrolled pairs that carry the same information as `pairs` planned comparisons."""
    untied = pairs * (1.0 - tie_share)
    used_per_prompt = max(1.0, pairs_per_prompt * (1.0 - tie_share))
    return untied * (1.0 - r2_controls) / design_effect(used_per_prompt, icc)


def power_for(log_odds_ratio_per_sd: float, n_effective: float, significance: float = 0.05) -> float:
    """Two-sided Wald test power (Hsieh, Bloch & Larsen 1998) with n_effective independent pairs."""
    z = norm.ppf(1.0 - significance / 2.0)
    shift = abs(log_odds_ratio_per_sd) * math.sqrt(max(n_effective, 0.0) * EVENT_VARIANCE)
    return float(norm.cdf(shift - z) + norm.cdf(-shift - z))


def effective_pairs_needed(log_odds_ratio_per_sd: float, target_power: float = 0.8, significance: float = 0.05) -> float | None:
    """Independent pairs for the target power (the formula's n; the far tail is ignored, as in the paper)."""
    if log_odds_ratio_per_sd == 0:
        return None
    z = norm.ppf(1.0 - significance / 2.0) + norm.ppf(target_power)
    return z**2 / (EVENT_VARIANCE * log_odds_ratio_per_sd**2)


def plan(
    *,
    alpha: float | None = None,
    odds_ratio_per_sd: float | None = None,
    sd_delta: float = 1.0,
    pairs: int = 1_000,
    pairs_per_prompt: float = 1.0,
    icc: float = 0.0,
    tie_share: float = 0.0,
    r2_controls: float = 0.0,
    significance: float = 0.05,
    target_power: float = 0.8,
    grid: tuple[int, ...] = DEFAULT_PAIR_GRID,
    source: dict | None = None,
) -> PowerPlan:
    """Power of an audit of `pairs` comparisons for a true alpha (or odds ratio per SD), the pairs a target power needs, and the minimum detectable alpha."""
    if (alpha is None) == (odds_ratio_per_sd is None):
        raise TypicalityError("Give the effect to plan for as either --alpha or --odds-ratio (per SD of Δℓ), not both or neither.")
    _check_numbers(alpha=alpha, odds_ratio=odds_ratio_per_sd, sd_delta=sd_delta, n_pairs=pairs, pairs_per_prompt=pairs_per_prompt, icc=icc,
                   tie_share=tie_share, r2_controls=r2_controls, significance=significance, power=target_power)
    _check_ranges(sd_delta, pairs, pairs_per_prompt, icc, tie_share, r2_controls, significance, target_power, odds_ratio_per_sd)
    log_or = alpha * sd_delta if alpha is not None else math.log(odds_ratio_per_sd)
    alpha = log_or / sd_delta
    shape = {"pairs_per_prompt": pairs_per_prompt, "icc": icc, "tie_share": tie_share, "r2_controls": r2_controls}
    # How many planned comparisons one independent pair is worth (ties, controls, clustering).
    n_effective = effective_pairs(pairs, **shape)
    inflation = pairs / n_effective  # the same at any number of pairs: prompts keep their size
    needed = effective_pairs_needed(log_or, target_power, significance)
    pairs_needed = None if needed is None else int(math.ceil(needed * inflation))
    detectable_log_or = (norm.ppf(1 - significance / 2) + norm.ppf(target_power)) / math.sqrt(n_effective * EVENT_VARIANCE)
    result = PowerPlan(
        alpha=float(alpha),
        sd_delta=float(sd_delta),
        pairs=int(pairs),
        pairs_per_prompt=float(pairs_per_prompt),
        icc=float(icc),
        tie_share=float(tie_share),
        r2_controls=float(r2_controls),
        significance=float(significance),
        target_power=float(target_power),
        log_odds_ratio_per_sd=float(log_or),
        odds_ratio_per_sd=float(math.exp(log_or)),
        design_effect=design_effect(max(1.0, pairs_per_prompt * (1 - tie_share)), icc),
        effective_pairs=float(n_effective),
        power=power_for(log_or, n_effective, significance),
        pairs_for_target=pairs_needed,
        prompts_for_target=None if pairs_needed is None else int(math.ceil(pairs_needed / pairs_per_prompt)),
        min_detectable_alpha=float(detectable_log_or / sd_delta),
        source=source or {"kind": "assumed"},
    )
    result.table = [
        {"pairs": int(n), "prompts": int(math.ceil(n / pairs_per_prompt)), "power": power_for(log_or, effective_pairs(n, **shape), significance)}
        for n in sorted(set(grid) | {int(pairs)} | ({pairs_needed} if pairs_needed else set()))
    ]
    return result


def _check_numbers(**values) -> None:
    """Every given setting a finite number: NaN fails every range check silently and infinity passes some (0 pairs, power 100%)."""
    for name, value in values.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypicalityError(f"{flag} must be a number, got {value!r} ({type(value).__name__}).")
        if not math.isfinite(value):
            raise TypicalityError(f"{flag} must be a finite number, got {value}.")


def _check_ranges(sd_delta, pairs, pairs_per_prompt, icc, tie_share, r2_controls, significance, target_power, odds_ratio) -> None:
    checks = [
        (sd_delta > 0 and math.isfinite(sd_delta), f"--sd-delta must be a positive number, got {sd_delta}"),
        (pairs >= 1, f"--n-pairs must be at least 1, got {pairs}"),
        (pairs_per_prompt >= 1, f"--pairs-per-prompt must be at least 1, got {pairs_per_prompt}"),
        (0 <= icc <= 1, f"--icc must be between 0 and 1, got {icc}"),
        (0 <= tie_share < 1, f"--tie-share must be in [0, 1), got {tie_share}"),
        (0 <= r2_controls < 1, f"--r2-controls must be in [0, 1), got {r2_controls}"),
        (0 < significance < 1, f"--significance must be between 0 and 1, got {significance}"),
        (0 < target_power < 1, f"--power must be between 0 and 1, got {target_power}"),
        (odds_ratio is None or odds_ratio > 0, f"--odds-ratio must be positive, got {odds_ratio}"),
    ]
    for ok, message in checks:
        if not ok:
            raise TypicalityError(message + ".")


def audit_design(audit: AuditFolder) -> dict:
    """The planning assumptions a finished audit implies, in units of its headline fit's usable pairs.

    Pairs are the headline fit's pairs (its slice, ties already dropped, so the tie share is 0),
    with their pairs per prompt; R² is that of Δℓ on the fit's controls. The ICC comes from the
    audit's own design effect: the fit's clustered variance over the variance of the same fit
    with independent pairs, DE = 1 + (m - 1) ICC solved for ICC. `comparisons_per_pair` is how
    many judged comparisons this audit needed per usable pair (ties, other slices, unscored).
    """
    results = audit.results
    estimate = results.headline_estimate
    folder = audit.folder or "the audit"
    if estimate is None or not estimate.fitted:
        raise TypicalityError(f"{folder}: its headline estimate was not fitted, so there is no alpha to plan for; give --alpha and the design instead.")
    if audit.pairs is None:
        raise TypicalityError(
            f"{folder} has no readable pairs.parquet ({audit.missing.get('pairs.parquet', 'absent')}): re-run `typicality fit {folder}` to write it."
        )
    decided = audit.pairs.with_frame(audit.pairs.frame[audit.pairs.frame["label"] != 0.5])
    model = PairwiseLogit(decided, PairwiseSpec.of(estimate))
    n_pairs, n_prompts = model.n_pairs, model.n_clusters
    per_prompt = n_pairs / max(n_prompts, 1)
    de = _observed_design_effect(model)
    icc = 0.0 if per_prompt <= 1 else max(0.0, (de - 1.0) / (per_prompt - 1.0))
    comparisons = results.pairs.get("comparisons") or n_pairs  # the pair design's accounting (a plain mapping)
    return {
        "alpha": float(estimate.alpha),
        "se": float(estimate.se),
        "sd_delta": float(estimate.sd_delta),
        "pairs": int(n_pairs),
        "pairs_per_prompt": float(per_prompt),
        "icc": float(min(icc, 1.0)),
        "tie_share": 0.0,
        "r2_controls": float(_r2_controls(model)),
        "observed_design_effect": float(de),
        "estimate": estimate.id,
        "n_prompts": int(n_prompts),
        "comparisons": int(comparisons),
        "comparisons_per_pair": float(comparisons / max(n_pairs, 1)),
    }


def plan_from_audit(audit: AuditFolder, *, target_power: float = 0.8, significance: float = 0.05, alpha: float | None = None) -> PowerPlan:
    """Plan from a finished audit: how many pairs would detect its headline alpha (or `alpha`) with the target power."""
    require_type("plan_from_audit", "audit", audit, AuditFolder, "an AuditFolder", "read the folder with typicality.read_audit(path)")
    design = audit_design(audit)
    source = {"kind": "audit", "folder": str(audit.folder) if audit.folder else None, **design}
    result = plan(
        alpha=design["alpha"] if alpha is None else alpha,
        sd_delta=design["sd_delta"],
        pairs=design["pairs"],
        pairs_per_prompt=design["pairs_per_prompt"],
        icc=design["icc"],
        tie_share=0.0,
        r2_controls=design["r2_controls"],
        significance=significance,
        target_power=target_power,
        source=source,
    )
    result.notes.append(
        f"Pairs are those of the fit {design['estimate']} (ties dropped); this audit judged {design['comparisons_per_pair']:.2f} comparisons per such pair"
        + (
            f", so {result.pairs_for_target:,} pairs means about {math.ceil(result.pairs_for_target * design['comparisons_per_pair']):,} comparisons to judge."
            if result.pairs_for_target
            else "."
        )
    )
    # A second answer from the audit's own standard error, scaled by 1/sqrt(n): no distributional assumption.
    if result.alpha != 0:
        z = norm.ppf(1 - significance / 2) + norm.ppf(target_power)
        source["pairs_for_target_from_observed_se"] = int(math.ceil(design["pairs"] * (design["se"] * z / result.alpha) ** 2))
        result.notes.append(
            f"Scaling the audit's own clustered SE ({design['se']:.3g} at {design['pairs']:,} pairs) by 1/sqrt(n) instead gives "
            f"{source['pairs_for_target_from_observed_se']:,} pairs for {target_power:.0%} power."
        )
    return result


def _observed_design_effect(model: PairwiseLogit) -> float:
    """Clustered over independent variance of alpha in the audit's own logit (its design effect)."""
    glm = model.glm()
    clustered = glm.fit(cov_type="cluster", cov_kwds={"groups": model.groups, "use_correction": False})
    independent = glm.fit(cov_type="HC0")
    return float(clustered.bse[0] ** 2 / independent.bse[0] ** 2)


def _r2_controls(model: PairwiseLogit) -> float:
    """Share of Δℓ's variance (about 0: pairs are oriented at random) explained by the fit's other columns, as in the fit."""
    if model.X.shape[1] == 1:
        return 0.0
    delta, controls = model.X[:, 0], model.X[:, 1:]
    fitted = controls @ np.linalg.lstsq(controls, delta, rcond=None)[0]
    return float(max(0.0, 1.0 - np.sum((delta - fitted) ** 2) / np.sum(delta**2)))
