"""The typed results of a comparison: one frozen dataclass per section of comparison.json.

The stats stage builds these (`typicality.stats.compare`); `typicality.comparison_folder` is the
only module that turns them into JSON and back (`to_dict` / `from_dict`, exact round trips of
the file's keys, in the file's order, as `typicality.results` does for results.json); the report
(`typicality.report.comparison`) and the CLI read their attributes.

comparison.json holds one of three sections beside the audits: `models` (one dataset, several
reference models), `labels` (the same pairs, several label sources) or `datasets` (one audit per
dataset); `ComparisonResults.kind` names it. Keys that files written by earlier versions lack
(an audit's dataset `preference`, a correlation's `max_abs_difference`, the top-level `effect`)
are left out when absent, so those files re-serialise byte for byte.

Pure data: no I/O, no statistics; pandas only for the per-response typicality a model comparison carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import pandas as pd

from typicality.display import Card, Displayed, comparison_card
from typicality.errors import TypicalityError
from typicality.results import Section

COMPARISON_KINDS = ("models", "labels", "datasets")  # each also names the field holding its section


class _Absent:
    """A key a comparison.json written by an earlier version does not have (a None would be written as null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class ComparisonSection(Section):
    """A frozen section of comparison.json: fields in the file's key order; ABSENT fields and fields marked
    `metadata={"json": False}` (held in memory only) are left out of the file."""

    FILE: ClassVar[str] = "comparison"
    FIX: ClassVar[str] = "re-run `typicality compare` on its audits"

    @classmethod
    def from_dict(cls, values: dict | None):
        in_memory = [f.name for f in fields(cls) if not f.metadata.get("json", True)]
        if isinstance(values, dict) and any(name in values for name in in_memory):
            raise TypicalityError(
                f"{cls.FILE} section {cls.__name__} has unknown key(s) {', '.join(name for name in in_memory if name in values)}: "
                f"it was written by another version of typicality; {cls.FIX}."
            )
        return super().from_dict(values)

    def to_dict(self) -> dict:
        content = super().to_dict()
        for f in fields(self):
            if getattr(self, f.name) is ABSENT or not f.metadata.get("json", True):
                content.pop(self.KEYS.get(f.name, f.name), None)
        return content


# ---------------------------------------------------------------------------------------------
# The compared audits


@dataclass(frozen=True, kw_only=True)
class AuditDataset(ComparisonSection):
    """The dataset an audit read, as the comparison lists it."""

    name: str
    title: str | None
    subset: str | None
    split: str | None
    n_prompts: int
    preference: str | None = ABSENT


@dataclass(frozen=True, kw_only=True)
class AuditModel(ComparisonSection):
    """The audit's reference model: its name and the scorer's fingerprint."""

    name: str | None
    fingerprint: str | None


@dataclass(frozen=True, kw_only=True)
class ComparedEstimate(ComparisonSection):
    """The numbers of the fit compared (the audit's headline or its length-controlled twin), as results.json gives them."""

    id: str
    slice: str
    typicality: str
    controls: list[str]
    alpha: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    sd_delta: float | None
    odds_ratio_per_sd: float | None
    n_pairs: int
    n_clusters: int


@dataclass(frozen=True, kw_only=True)
class ComparedAuditEntry(ComparisonSection):
    """One compared audit: its label, folder, dataset, reference model and the compared fit's numbers."""

    label: str
    folder: str
    dataset: AuditDataset
    model: AuditModel
    estimate: ComparedEstimate

    NESTED: ClassVar[dict[str, type]] = {"dataset": AuditDataset, "model": AuditModel, "estimate": ComparedEstimate}

    @property
    def dataset_name(self) -> str:
        """The dataset in words: its title, or name / subset / split."""
        dataset = self.dataset
        return dataset.title or " / ".join(str(part) for part in (dataset.name, dataset.subset, dataset.split) if part)

    @property
    def model_name(self) -> str:
        return self.model.fingerprint or self.model.name or "unknown"


@dataclass(frozen=True, kw_only=True)
class FitSpec(ComparisonSection):
    """The compared fit refitted jointly: its slice, typicality and controls."""

    slice: str
    typicality: str
    controls: list[str]

    def describe(self) -> str:
        return f"slice {self.slice}, {self.typicality}, controls: {', '.join(self.controls) or 'none'}"


@dataclass(frozen=True, kw_only=True)
class Equality(ComparisonSection):
    """The chi-square test that every alpha is equal (more than two audits)."""

    chi2: float
    df: int
    p_value: float


# ---------------------------------------------------------------------------------------------
# Models: one dataset, several reference models


@dataclass(frozen=True, kw_only=True)
class TypicalityCorrelation(ComparisonSection):
    """Two models' agreement on each response's typicality and on each pair's Δℓ."""

    models: list[str]
    n_responses: int
    response_pearson: float
    response_spearman: float
    mean_abs_difference: float
    max_abs_difference: float = ABSENT
    mean_difference: float
    n_pairs: int
    delta_pearson: float
    delta_spearman: float
    delta_same_sign: float | None

    @property
    def has_max(self) -> bool:
        """Whether the file gives the max |difference| (comparisons written before it was added do not)."""
        return self.max_abs_difference is not ABSENT


@dataclass(frozen=True, kw_only=True)
class ModelAlpha(ComparisonSection):
    model: str
    alpha: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True, kw_only=True)
class ModelDifference(ComparisonSection):
    """alpha of the second model minus the first's, Wald-tested with the joint fit's covariance."""

    models: list[str]
    difference: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    se_if_independent: float


@dataclass(frozen=True, kw_only=True)
class ModelJointFit(ComparisonSection):
    """One stacked fit of every model's pairs with one prompt-clustered sandwich."""

    alphas: list[ModelAlpha]
    differences: list[ModelDifference]
    controls: list[str]
    n_rows: int
    n_clusters: int
    converged: bool
    equality: Equality | None = None

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("equality",)
    NESTED: ClassVar[dict[str, type]] = {"alphas": ModelAlpha, "differences": ModelDifference, "equality": Equality}


@dataclass(frozen=True, kw_only=True)
class AgreementRate(ComparisonSection):
    model: str
    n_agree: int
    rate: float | None


@dataclass(frozen=True, kw_only=True)
class McNemarTest(ComparisonSection):
    """Two models' agreement outcomes on the same pairs; `table` rows: first model agrees / not, columns: second's."""

    models: list[str]
    table: list[list[int]]
    only_first_agrees: int
    only_second_agrees: int
    rate_difference: float | None
    method: str
    statistic: float
    p_value: float


@dataclass(frozen=True, kw_only=True)
class ModelAgreement(ComparisonSection):
    n_pairs: int
    rates: list[AgreementRate]
    mcnemar: list[McNemarTest]

    NESTED: ClassVar[dict[str, type]] = {"rates": AgreementRate, "mcnemar": McNemarTest}


@dataclass(frozen=True, kw_only=True)
class ModelComparison(ComparisonSection):
    """comparison.json's `models`."""

    typicality: str
    spec: FitSpec
    n_pairs: int
    n_prompts: int
    correlations: list[TypicalityCorrelation]
    joint_fit: ModelJointFit
    agreement: ModelAgreement

    NESTED: ClassVar[dict[str, type]] = {"spec": FitSpec, "correlations": TypicalityCorrelation, "joint_fit": ModelJointFit, "agreement": ModelAgreement}

    def correlation(self, first: str, second: str) -> TypicalityCorrelation:
        return next(row for row in self.correlations if list(row.models) == [first, second])


# ---------------------------------------------------------------------------------------------
# Labels: the same pairs, several label sources


@dataclass(frozen=True, kw_only=True)
class SourceAlpha(ComparisonSection):
    source: str
    alpha: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True, kw_only=True)
class SourceDifference(ComparisonSection):
    """alpha of the second source minus the first's; `term` names the interaction coefficient when the first is the reference source."""

    sources: list[str]
    term: str | None
    difference: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    se_if_independent: float


@dataclass(frozen=True, kw_only=True)
class SourceJointFit(ComparisonSection):
    """One stacked fit with the source × Δℓ interaction and one prompt-clustered sandwich."""

    alphas: list[SourceAlpha]
    differences: list[SourceDifference]
    terms: list[str]
    controls: list[str]
    n_rows: int
    n_clusters: int
    converged: bool
    equality: Equality | None = None

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("equality",)
    NESTED: ClassVar[dict[str, type]] = {"alphas": SourceAlpha, "differences": SourceDifference, "equality": Equality}


@dataclass(frozen=True, kw_only=True)
class LabelAgreement(ComparisonSection):
    """Two sources' labels of their shared pairs: how often they differ, the table and Cohen's kappa (None when undefined)."""

    sources: list[str]
    n_pairs: int
    n_differ: int
    share_differ: float | None
    categories: list[str]
    table: list[list[int]]  # rows: first source's label, columns: second source's, in `categories` order
    kappa: float | None
    kappa_se: float | None
    kappa_ci_low: float | None
    kappa_ci_high: float | None


@dataclass(frozen=True, kw_only=True)
class LabelComparison(ComparisonSection):
    """comparison.json's `labels`."""

    typicality: str
    spec: FitSpec
    n_pairs: int
    n_prompts: int
    n_judgements: dict[str, int]
    n_pairs_judged: dict[str, int]  # each source's distinct pairs in the slice, shared or not
    joint_fit: SourceJointFit
    agreement: list[LabelAgreement]

    NESTED: ClassVar[dict[str, type]] = {"spec": FitSpec, "joint_fit": SourceJointFit, "agreement": LabelAgreement}


# ---------------------------------------------------------------------------------------------
# Datasets: one audit per dataset


@dataclass(frozen=True, kw_only=True)
class DatasetEffect(ComparisonSection):
    """One dataset's compared fit, per SD of Δℓ."""

    label: str
    alpha: float
    se: float
    sd_delta: float
    effect_per_sd: float
    se_per_sd: float
    ci_low: float
    ci_high: float
    odds_ratio_per_sd: float
    p_value: float
    p_holm: float
    n_pairs: int
    n_clusters: int
    estimate: str


@dataclass(frozen=True, kw_only=True)
class PooledEffect(ComparisonSection):
    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    odds_ratio: float


@dataclass(frozen=True, kw_only=True)
class Pooled(ComparisonSection):
    """Fixed- and random-effects pooled effects with the heterogeneity statistics."""

    method: str
    random: PooledEffect
    fixed: PooledEffect
    tau2: float
    tau: float
    i2: float
    q: float
    q_df: int
    q_p_value: float | None
    weights: dict[str, float]

    NESTED: ClassVar[dict[str, type]] = {"random": PooledEffect, "fixed": PooledEffect}


@dataclass(frozen=True, kw_only=True)
class DatasetDifference(ComparisonSection):
    """The second dataset's effect per SD minus the first's; Holm-adjusted across the differences."""

    datasets: list[str]
    difference: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float


@dataclass(frozen=True, kw_only=True)
class DatasetComparison(ComparisonSection):
    """comparison.json's `datasets`."""

    effect: str
    datasets: list[DatasetEffect]
    pooled: Pooled
    differences: list[DatasetDifference]

    NESTED: ClassVar[dict[str, type]] = {"datasets": DatasetEffect, "pooled": Pooled, "differences": DatasetDifference}


# ---------------------------------------------------------------------------------------------
# The whole comparison


@dataclass(frozen=True, kw_only=True, repr=False)  # repr: the comparison's card (typicality/display.py)
class ComparisonResults(Displayed, ComparisonSection):
    """comparison.json: the kind, the audits, the kind's section, warnings, software and the effect compared.

    `typicality` (model comparisons, in memory only) holds each response's typicality per model, for the
    scatter; the comparison folder keeps it as typicality.parquet.
    """

    kind: str
    audits: list[ComparedAuditEntry]
    models: ModelComparison | None = None
    labels: LabelComparison | None = None
    datasets: DatasetComparison | None = None
    warnings: list[str] = field(default_factory=list)
    software: dict[str, str | None] = field(default_factory=dict)
    effect: str | None = None
    typicality: pd.DataFrame | None = field(default=None, compare=False, repr=False, metadata={"json": False})

    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("models", "labels", "datasets", "effect")
    NESTED: ClassVar[dict[str, type]] = {
        "audits": ComparedAuditEntry,
        "models": ModelComparison,
        "labels": LabelComparison,
        "datasets": DatasetComparison,
    }

    def __post_init__(self) -> None:
        if self.kind not in COMPARISON_KINDS or getattr(self, self.kind) is None:
            raise TypicalityError(
                f"comparison kind {self.kind!r} must be one of {', '.join(COMPARISON_KINDS)} and come with its section: "
                f"{self.FIX}."
            )

    def _card(self) -> Card:
        return comparison_card(self.to_dict())

    @property
    def labels_in_order(self) -> list[str]:
        """The audits' labels, in the order compared."""
        return [item.label for item in self.audits]

    @property
    def section(self) -> ModelComparison | LabelComparison | DatasetComparison:
        """The kind's section: `models`, `labels` or `datasets`."""
        return getattr(self, self.kind)
