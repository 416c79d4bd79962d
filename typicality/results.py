"""The typed results of an audit: one frozen dataclass per section of results.json (and influence.json).

The stats stage builds these (stats/analysis.py, in the order its `analyze` states); `audit_folder`
is the only module that turns them into JSON and back (`to_dict` / `from_dict`, exact round
trips of the file's keys, in the file's order); the report, the export, the comparison, the
planner and the notebook read their attributes. A decision lives in one place: the headline is
`AuditResults.headline_estimate`, "does this fit hold quality fixed" is
`AuditResults.is_quality_controlled`, and each section says what the statistics decided
(`interpretation.kind`, `sensitivity.available`, ...) for the report to word.

Pure data: no I/O, no model code, no statistics; pandas only for `to_frame`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

import pandas as pd

from typicality.display import Card, Displayed, audit_results_card, estimate_card, influence_card
from typicality.errors import TypicalityError
from typicality.formatting import fmt, fmt_coef, fmt_count, fmt_interval, fmt_p_clause, fmt_percent, fmt_signed, number

# The names results.json uses for the slice of equal-quality pairs and for the length control; the pair design
# (stats/pair_design.py) builds them under these names.
EQUAL_CORRECTNESS = "equal-correctness"
LENGTH_CONTROL = "length"  # the user-facing name of delta log token count
FEW_PROMPTS = 50  # below this a fit's CI rests on a small-sample approximation: `interpretation.few_prompts` says so


def _plain(value: Any) -> Any:
    """JSON-ready: sections to dicts, tuples to lists (recursively)."""
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class Section:
    """A frozen section of results.json: fields in the file's key order.

    `OMIT_WHEN_NONE` names the keys the file leaves out when they have no value (rather than
    writing null); `KEYS` renames fields whose key is a Python keyword; `NESTED` gives the
    section type of a field that holds one (or a list of them). `FILE` and `FIX` word a refused
    section: which file it came from and the command that rewrites it.
    """

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ()
    FILE: ClassVar[str] = "results"
    FIX: ClassVar[str] = "re-run `typicality fit` on its folder"
    KEYS: ClassVar[dict[str, str]] = {}
    NESTED: ClassVar[dict[str, type]] = {}

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in self.OMIT_WHEN_NONE:
                continue
            out[self.KEYS.get(f.name, f.name)] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, values: dict | None):
        if values is None:
            return None
        if isinstance(values, cls):
            return values
        if not isinstance(values, dict):
            raise TypicalityError(f"{cls.FILE} section {cls.__name__} must be a JSON object, got {type(values).__name__}.")
        by_key = {cls.KEYS.get(f.name, f.name): f.name for f in fields(cls) if f.init}
        unknown = sorted(set(values) - set(by_key) - cls._derived_keys())
        if unknown:
            raise TypicalityError(
                f"{cls.FILE} section {cls.__name__} has unknown key(s) {', '.join(unknown)}: it was written by another version of typicality; "
                f"{cls.FIX}."
            )
        required = [cls.KEYS.get(f.name, f.name) for f in fields(cls) if f.init and f.default is MISSING and f.default_factory is MISSING]
        missing = [key for key in required if key not in values]
        if missing:
            raise TypicalityError(
                f"{cls.FILE} section {cls.__name__} lacks {', '.join(missing)}: it was written by another version of typicality; "
                f"{cls.FIX}."
            )
        kwargs = {}
        for key, name in by_key.items():
            if key not in values:
                continue
            value = values[key]
            nested = cls.NESTED.get(name)
            if nested is not None and value is not None:
                if isinstance(value, list) and any(not isinstance(item, dict) for item in value):
                    raise TypicalityError(f"{cls.FILE} section {cls.__name__}.{key} must list JSON objects, got {value!r:.80}.")
                value = [nested.from_dict(item) for item in value] if isinstance(value, list) else nested.from_dict(value)
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def _derived_keys(cls) -> set[str]:
        return set()

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# One fit


@dataclass(frozen=True, repr=False)  # repr: its card (typicality/display.py)
class Estimate(Displayed, Section):
    """One fit of the typicality coefficient alpha on one slice, with its controls; numbers are None when not fitted."""

    slice: str
    typicality: str
    controls: list[str]
    fitted: bool = False
    reason: str | None = None  # why no fit ran, when fitted is False
    alpha: float | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    odds_ratio_per_sd: float | None = None
    win_prob_change: float | None = None
    sd_delta: float | None = None
    n_pairs: int = 0
    n_clusters: int = 0
    coefficients: dict[str, dict] = field(default_factory=dict)  # each control: coef, se, p_value
    bootstrap: dict | None = None  # cluster bootstrap: n_draws, n_failed, se, ci_low, ci_high
    warnings: list[str] = field(default_factory=list)
    estimator: str = "logit"  # "logit" (the paper's, ties dropped) or another (stats/ties.py: "rao-kupper")
    df: int | None = None  # degrees of freedom of the t reference for p and CI: prompts - 1
    ratio: dict | None = None  # alpha / beta_<quality rating> with a delta-method CI, when the fit controls for one
    p_holm: float | None = None  # Holm-adjusted p across the robustness set (None for the pre-specified headline)
    robustness: str | None = None  # what a robustness row checks, when it is not one of the robustness set's standard fits
    # Controls the fit was asked for but ran without (constant or collinear in its rows); None when it ran with every one.
    dropped_controls: list[str] | None = None

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("dropped_controls",)

    @property
    def id(self) -> str:
        """slice|typicality|controls[|dropped:C][|estimator]: unique in results.json.

        `controls` are the ones fitted, so a fit that dropped a control would otherwise share the id
        of the fit that never asked for it (on other rows when the control has gaps); the
        `dropped:` part tells them apart. The estimator stays last (stats/ties.py reads the base id).
        """
        base = f"{self.slice}|{self.typicality}|{'+'.join(self.controls) or 'none'}"
        if self.dropped_controls:
            base = f"{base}|dropped:{'+'.join(self.dropped_controls)}"
        return base if self.estimator == "logit" else f"{base}|{self.estimator}"

    def to_dict(self) -> dict:
        return {"id": self.id, **super().to_dict()}

    def _card(self) -> Card:
        return estimate_card(self)

    @classmethod
    def _derived_keys(cls) -> set[str]:
        return {"id"}

    @classmethod
    def from_dict(cls, values: dict | None):
        estimate = super().from_dict(values)
        if isinstance(values, dict) and "id" in values and values["id"] != estimate.id:
            raise TypicalityError(f"estimate id {values['id']!r} does not match its slice, typicality, controls and estimator ({estimate.id!r}).")
        return estimate

    def summary(self) -> str:
        head = f"slice={self.slice}, typicality={self.typicality}, controls=[{', '.join(self.controls)}]"
        lines = [f"Typicality bias: {head}"]
        if not self.fitted:
            lines.append(f"  not fitted: {self.reason}")
        else:
            lines.append(
                f"  alpha = {fmt_coef(self.alpha)} (SE {fmt_coef(self.se)}; 95% CI {fmt_interval(self.ci_low, self.ci_high)}); "
                f"p {fmt_p_clause(self.p_value)}"
            )
            lines.append(
                f"  odds ratio per SD = {fmt(self.odds_ratio_per_sd)}; win probability -1 SD -> +1 SD: {fmt_signed(self.win_prob_change, 3)}"
            )
            for name, coefficient in self.coefficients.items():
                lines.append(f"  control {name}: {fmt_coef(coefficient.get('coef'))} (SE {fmt_coef(coefficient.get('se'))})")
            if self.bootstrap and number(self.bootstrap.get("se")) is not None:
                b = self.bootstrap
                lines.append(
                    f"  cluster bootstrap ({fmt_count(b.get('n_draws'))} draws, {fmt_count(b.get('n_failed'))} failed): "
                    f"SE {fmt_coef(b['se'])}; 95% CI {fmt_interval(b.get('ci_low'), b.get('ci_high'))}"
                )
        lines.append(f"  pairs = {fmt_count(self.n_pairs)}, clusters = {fmt_count(self.n_clusters)}")
        lines.extend(f"  warning: {message}" for message in self.warnings)
        return "\n".join(lines)


def estimates_frame(estimates) -> pd.DataFrame:
    """A tidy table of estimates: one row each, controls and warnings joined into strings."""
    rows = []
    for estimate in estimates:
        row = estimate.to_dict()
        row["controls"] = ", ".join(row["controls"])
        row["warnings"] = "; ".join(row["warnings"])
        row.pop("coefficients")
        bootstrap = row.pop("bootstrap") or {}
        row["bootstrap_se"] = bootstrap.get("se")
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The headline


@dataclass(frozen=True)
class AlphaChange(Section):
    """Alpha with the length control minus alpha without it (same pairs), with its prompt-cluster bootstrap when run."""

    estimate: float
    from_id: str
    to_id: str
    n_draws: int | None = None  # the bootstrap's fields are absent when no bootstrap ran (--change-draws 0)
    n_failed: int | None = None
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str | None = None
    note: str | None = None

    KEYS: ClassVar[dict[str, str]] = {"from_id": "from", "to_id": "to"}

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.n_draws is None:
            for key in ("n_draws", "n_failed", "se", "ci_low", "ci_high", "method", "note"):
                out.pop(key)
        return out

    @property
    def bootstrapped(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None


@dataclass(frozen=True)
class Headline(Section):
    """The pre-specified estimate to quote, why, its length-controlled twin, the change between them, and the curve's fit."""

    estimate: str | None
    reason: str
    length_controlled: str | None = None
    alpha_change: AlphaChange | None = None
    curve: str | None = None

    NESTED: ClassVar[dict[str, type]] = {"alpha_change": AlphaChange}


# ---------------------------------------------------------------------------------------------
# Fits beside alpha


@dataclass(frozen=True)
class Agreement(Section):
    """Share of decided pairs whose preferred response has the higher typicality; numbers None when there are no pairs."""

    typicality: str
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_agree: int
    n_pairs: int  # decided pairs (no label tie) with unequal typicality
    n_typicality_ties: int  # decided pairs whose two responses have exactly the same typicality: left out
    warnings: list[str] = field(default_factory=list)
    n_prompts: int | None = None  # prompts among the counted pairs
    one_pair_per_prompt: bool = False  # True: one pair drawn per prompt (seeded) before counting
    clustered: dict | None = None  # prompts with several pairs: se, ci_low, ci_high, p_value, df, design_effect

    def summary(self) -> str:
        if number(self.rate) is None:
            return f"Agreement ({self.typicality}): no pairs. " + " ".join(self.warnings)
        text = (
            f"Agreement ({self.typicality}): {fmt_percent(self.rate)} of {fmt_count(self.n_pairs)} pairs prefer the more typical response "
            f"(Wilson 95% CI {fmt_percent(self.ci_low)} to {fmt_percent(self.ci_high)}; exact binomial p {fmt_p_clause(self.p_value)} vs 50%)"
        )
        if self.clustered and number(self.clustered.get("ci_low")) is not None:
            c = self.clustered
            text += (
                f"; prompt-clustered 95% CI {fmt_percent(c['ci_low'])} to {fmt_percent(c.get('ci_high'))} "
                f"({fmt_count(self.n_prompts)} prompts, p {fmt_p_clause(c.get('p_value'))})"
            )
        return text


@dataclass(frozen=True)
class OrdinalFit(Section):
    """The ordinal logit's typicality coefficient, its Wald and LR tests; numbers None when not fitted."""

    outcome: str
    typicality: str
    controls: list[str]
    fitted: bool = False
    reason: str | None = None
    coef: float | None = None
    se: float | None = None
    p_value: float | None = None  # Wald test of the typicality coefficient
    lr_statistic: float | None = None
    lr_df: int = 1
    lr_p_value: float | None = None
    coefficients: dict[str, dict] = field(default_factory=dict)  # each control: coef, se, p_value
    n_responses: int = 0
    n_levels: int = 0
    warnings: list[str] = field(default_factory=list)
    within_prompt: bool = True  # typicality centred within prompt; controls as categories
    n_prompts: int = 0
    cluster_se: float | None = None  # prompt-clustered sandwich SE of the typicality coefficient
    cluster_p_value: float | None = None  # its Wald test, t(G-1)
    cluster_ci_low: float | None = None
    cluster_ci_high: float | None = None

    def summary(self) -> str:
        head = f"Ordinal logit: {self.outcome} ~ {' + '.join(self.controls + [self.typicality])}"
        if not self.fitted:
            return f"{head}\n  not fitted: {self.reason}"
        clustered = f"prompt-clustered SE {fmt_coef(self.cluster_se)}, p {fmt_p_clause(self.cluster_p_value)}; " if self.cluster_se is not None else ""
        return (
            f"{head}\n  {self.typicality} (centred within prompt): {fmt_coef(self.coef)} (SE {fmt_coef(self.se)}, Wald p {fmt_p_clause(self.p_value)}; "
            f"{clustered}LR = {fmt(self.lr_statistic, 2)} on {self.lr_df} df, p {fmt_p_clause(self.lr_p_value)}); "
            f"{fmt_count(self.n_responses)} responses in {fmt_count(self.n_prompts)} prompts, {self.n_levels} levels"
        )


@dataclass(frozen=True)
class Memorization(Section):
    """Responses the reference model reproduces almost token for token (stats/memorization.py), and the fit without them."""

    threshold_probability: float
    threshold_mean_logprob: float
    n_responses_in_pairs: int
    n_memorized_in_pairs: int
    n_pairs: int
    n_pairs_with_memorized: int
    n_scored_responses: int | None = None  # present when the scores table was given
    n_memorized_responses: int | None = None
    estimate: str | None = None  # the not-memorized robustness fit, when one ran

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("n_scored_responses", "n_memorized_responses")


@dataclass(frozen=True)
class Debiasing(Section):
    """What removing the fitted typicality term does (stats/debias.py); `reason` alone when no usable fit exists."""

    available: bool
    estimate: str | None = None
    alpha: float | None = None
    how: str | None = None
    reason: str | None = None
    typicality: str | None = None
    controls: list[str] | None = None
    coefficients_with_typicality: dict | None = None
    coefficients_without_typicality: dict | None = None
    n_pairs: int | None = None
    n_decisive: int | None = None
    n_ties: int | None = None
    n_lacking_controls: int | None = None
    n_flips: int | None = None
    share_flips: float | None = None
    n_undetermined: int | None = None  # where removing typicality leaves no preference at all (no controls, or equal controls)
    weights: dict | None = None
    warnings: list[str] | None = None

    def to_dict(self) -> dict:
        if not self.available:
            return {"available": False, "reason": self.reason}
        return super().to_dict()


@dataclass(frozen=True)
class Gamma(Section):
    beta: float
    gamma: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Sharpening(Section):
    """gamma = 1 + alpha / beta for each KL coefficient beta, from the sequence-scale fit (stats/sharpening.py)."""

    betas: list[float]
    formula: str
    scale: str
    available: bool
    estimate: str | None
    reason: str
    alpha: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    gammas: list[Gamma] = field(default_factory=list)

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("alpha", "ci_low", "ci_high")
    NESTED: ClassVar[dict[str, type]] = {"gammas": Gamma}


@dataclass(frozen=True)
class TiePair(Section):
    tie_dropping: str
    tie_aware: str
    inflation: float | None


@dataclass(frozen=True)
class Ties(Section):
    """How many pairs tie, and each tie-dropping fit beside its tie-aware (Rao-Kupper) twin (stats/ties.py)."""

    n_pairs: int
    n_ties: int
    tie_share: float | None
    pairs_of_fits: list[TiePair]
    note: str

    NESTED: ClassVar[dict[str, type]] = {"pairs_of_fits": TiePair}


@dataclass(frozen=True)
class NegativeControl(Section):
    """The fluency negative control (stats/negative_control.py): the headline refitted on l(y|x) - l(y) and on l(y)."""

    available: bool
    estimate: str | None
    prompt_specific: str | None = None
    unconditional: str | None = None
    reason: str | None = None
    n_scored: int | None = None
    correlation: float | None = None
    meaning: str | None = None

    def to_dict(self) -> dict:
        out = super().to_dict()
        for key in ("n_scored", "correlation", "meaning") if not self.available else ("reason",):
            out.pop(key)
        return out


@dataclass(frozen=True)
class Interpretation(Section):
    """What the headline alpha means: a bias estimate controlled for a quality rating, or an association (stats/validity.py)."""

    kind: str  # "bias" or "association"
    quality_control: str | None
    label: str
    statement: str
    estimate: str | None
    few_prompts: bool
    ci_note: str | None = None

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("ci_note",)

    @property
    def is_bias_estimate(self) -> bool:
        return self.kind == "bias"


@dataclass(frozen=True)
class Sensitivity(Section):
    """E-values of the headline's odds ratio per SD (stats/sensitivity.py); `reason` when unavailable."""

    method: str
    reference: str
    estimate: str | None
    available: bool
    reason: str | None = None
    odds_ratio_per_sd: float | None = None
    odds_ratio_ci: list[float] | None = None
    risk_ratio: float | None = None
    e_value: float | None = None
    e_value_ci: float | None = None
    meaning: str | None = None

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = (
        "reason", "odds_ratio_per_sd", "odds_ratio_ci", "risk_ratio", "e_value", "e_value_ci", "meaning"
    )


@dataclass(frozen=True)
class Multiplicity(Section):
    """Holm across the robustness set; the pre-specified headline keeps its own p (stats/multiplicity.py)."""

    method: str
    pre_specified: str | None
    family: list[str]
    note: str


@dataclass(frozen=True)
class GroupAlpha(Section):
    """One group of `Groups`: its own alpha (SE) and, when it takes part in the pooling, its partially pooled alpha."""

    name: str
    n_pairs: int
    n_prompts: int
    fitted: bool
    reason: str | None = None  # why the group has no alpha of its own
    alpha: float | None = None
    se: float | None = None
    pooled_alpha: float | None = None
    pooled_ci_low: float | None = None
    pooled_ci_high: float | None = None
    p_value: float | None = None  # alpha_g against the population's alpha
    p_holm: float | None = None  # Holm across the groups
    differs: bool | None = None  # p_holm < 0.05

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("reason", "alpha", "se", "pooled_alpha", "pooled_ci_low", "pooled_ci_high", "p_value", "p_holm", "differs")


@dataclass(frozen=True)
class Groups(Section):
    """The headline fit per group of a comparison-level column, partially pooled (stats/groups.py); present only with --by."""

    column: str
    estimate: str | None  # the headline fit whose slice, typicality and controls each group's fit uses
    min_pairs: int
    method: str
    multiplicity: str
    available: bool
    reason: str | None = None
    population_alpha: float | None = None
    population_ci_low: float | None = None
    population_ci_high: float | None = None
    tau: float | None = None  # between-group SD of alpha
    tau_ci_low: float | None = None
    tau_ci_high: float | None = None
    i_squared: float | None = None
    q_statistic: float | None = None  # Cochran's Q: the test of no heterogeneity
    q_df: int | None = None
    q_p_value: float | None = None
    n_differing: int | None = None  # groups whose alpha differs from the population's (Holm)
    n_groups: int = 0  # groups with at least min_pairs pairs
    n_pooled_groups: int = 0  # groups with fewer, pooled into one
    pooled_groups: list[str] = field(default_factory=list)
    n_pairs_without_group: int = 0
    groups: list[GroupAlpha] = field(default_factory=list)

    NESTED: ClassVar[dict[str, type]] = {"groups": GroupAlpha}

    @property
    def pooled(self) -> list[GroupAlpha]:
        """The groups with a partially pooled alpha, sorted by it."""
        return sorted((g for g in self.groups if g.pooled_alpha is not None), key=lambda g: g.pooled_alpha)

    def summary(self) -> str:
        if not self.available:
            return f"By {self.column}: not fitted: {self.reason}."
        differing = [g.name for g in self.pooled if g.differs]
        lines = [
            f"By {self.column}: {fmt_count(self.n_groups)} groups of at least {self.min_pairs} pairs"
            + (f" ({fmt_count(self.n_pooled_groups)} smaller ones pooled)" if self.n_pooled_groups else ""),
            f"  population alpha = {fmt_coef(self.population_alpha)} (95% CI {fmt_interval(self.population_ci_low, self.population_ci_high)}); "
            f"between-group SD tau = {fmt_coef(self.tau)} (95% CI {fmt_interval(self.tau_ci_low, self.tau_ci_high)}); I^2 = {fmt_percent(self.i_squared)}",
            f"  no-heterogeneity test: Q = {fmt(self.q_statistic, 2)} on {self.q_df} df, p {fmt_p_clause(self.q_p_value)}; "
            f"{len(differing)} group(s) differ from the population (Holm)" + (f": {', '.join(differing[:10])}" if differing else ""),
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class DatasetInfo(Section):
    """The dataset the audit read: its names, kind, columns, counts, accounting and provenance."""

    name: str
    title: str | None
    subset: str | None
    split: str | None
    kind: str
    source: str | None
    preference: str | None
    correctness: str | None
    ratings: list[str]
    n_prompts: int
    n_responses: int
    n_comparisons: int
    accounting: dict
    preference_rating: str | None
    provenance: list[dict]


@dataclass(frozen=True, repr=False)
class InfluenceSummary(Displayed, Section):
    """influence.json: influence of pairs and prompts on the headline's alpha, CV3 and alpha without the top prompts
    (stats/influence.py); `reason` alone when it was not computed."""

    available: bool
    estimate: str | None = None
    alpha: float | None = None
    n_pairs: int | None = None
    n_prompts: int | None = None
    prompt_method: str | None = None
    exact_max_prompts: int | None = None
    n_prompts_not_converged: int | None = None
    cv1_se: float | None = None
    cv3: dict | None = None
    largest_pair_change: float | None = None
    largest_prompt_change: float | None = None
    leave_one_prompt_out: dict | None = None
    without_top_prompts: dict | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        if not self.available:
            return {"available": False, "reason": self.reason}
        out = super().to_dict()
        out.pop("reason")
        return out

    def _card(self) -> Card:
        return influence_card(self)


# ---------------------------------------------------------------------------------------------
# The whole of results.json


@dataclass(frozen=True, repr=False)
class AuditResults(Displayed, Section):
    """results.json, typed: every section, in the file's order. `ties` and `negative_control` only when they ran.

    `dataset`, `model` (the scorer's card, owned by the scoring stage), `pairs` (the pair design's
    accounting), `settings` (the analysis options), `software` and `slices` stay plain mappings.
    """

    dataset: DatasetInfo
    model: dict | None
    headline: Headline
    estimates: tuple[Estimate, ...]
    slices: dict
    agreement: Agreement
    ordinal: OrdinalFit | None
    pairs: dict
    settings: dict
    warnings: tuple[str, ...]
    software: dict
    memorized: Memorization
    debiasing: Debiasing
    sharpening: Sharpening
    ties: Ties | None = None
    negative_control: NegativeControl | None = None
    # Always present; keyword-only so that they can follow the two optional sections above in the file's order.
    interpretation: Interpretation = field(kw_only=True)
    sensitivity: Sensitivity = field(kw_only=True)
    multiplicity: Multiplicity = field(kw_only=True)
    groups: Groups | None = field(default=None, kw_only=True)  # only with --by

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("ties", "negative_control", "groups")
    NESTED: ClassVar[dict[str, type]] = {
        "dataset": DatasetInfo,
        "headline": Headline,
        "estimates": Estimate,
        "agreement": Agreement,
        "ordinal": OrdinalFit,
        "memorized": Memorization,
        "debiasing": Debiasing,
        "sharpening": Sharpening,
        "ties": Ties,
        "negative_control": NegativeControl,
        "interpretation": Interpretation,
        "sensitivity": Sensitivity,
        "multiplicity": Multiplicity,
        "groups": Groups,
    }

    @classmethod
    def from_dict(cls, values: dict | None):
        if isinstance(values, dict):
            values = {key: value for key, value in values.items() if key != "format_version"}  # checked by audit_folder
        results = super().from_dict(values)
        return results.replace(estimates=tuple(results.estimates), warnings=tuple(results.warnings))

    # -- the decisions, each read here and nowhere else ------------------------------------------

    def estimate(self, estimate_id: str | None) -> Estimate | None:
        """The estimate with this id, or None."""
        if estimate_id is None:
            return None
        return next((estimate for estimate in self.estimates if estimate.id == estimate_id), None)

    @property
    def headline_estimate(self) -> Estimate | None:
        """The pre-specified headline fit (fitted or not), or None when no estimate exists."""
        return self.estimate(self.headline.estimate)

    @property
    def length_controlled_estimate(self) -> Estimate | None:
        """The headline's twin with the length control added, when it was fitted."""
        return self.estimate(self.headline.length_controlled)

    @property
    def curve_estimate(self) -> Estimate | None:
        """The fit the preference-rate curve draws (mean typicality without controls)."""
        return self.estimate(self.headline.curve)

    @property
    def correctness(self) -> str | None:
        """The dataset's quality rating, when it has one."""
        return self.dataset.correctness

    def is_quality_controlled(self, estimate: Estimate | None) -> bool:
        """True when a fit holds quality fixed: the equal-correctness slice, or the quality rating among its controls.

        Data without a quality rating has nothing to control for: every fit counts as controlled here
        (the question "is alpha confounded by quality" cannot be asked of it; `interpretation` says so).
        """
        return is_quality_controlled(estimate, self.correctness)

    def to_frame(self) -> pd.DataFrame:
        return estimates_frame(self.estimates)

    def _card(self) -> Card:
        return audit_results_card(self)

    def summary(self) -> str:
        pairs, model = self.pairs, self.model or {}
        lines = [
            f"Dataset {self.dataset.name}: {fmt_count(pairs['pairs'])} pairs of {fmt_count(pairs['comparisons'])} comparisons; "
            f"model {model.get('model') or model.get('fingerprint') or 'unknown'}"
        ]
        lines.append(self.agreement.summary())
        lines.extend(estimate.summary() for estimate in self.estimates)
        if self.ordinal is not None:
            lines.append(self.ordinal.summary())
        if self.groups is not None:
            lines.append(self.groups.summary())
        lines.extend(f"warning: {message}" for message in self.warnings)
        return "\n".join(lines)


def is_quality_controlled(estimate: Estimate | None, correctness: str | None) -> bool:
    """`AuditResults.is_quality_controlled` for a dataset's quality rating (None: no rating)."""
    if not correctness:
        return True
    if estimate is None:
        return False
    return estimate.slice == EQUAL_CORRECTNESS or correctness in estimate.controls
