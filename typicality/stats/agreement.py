"""The agreement rate: how often the preferred response is the more typical one (Wilson CI, exact binomial test vs 0.5)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from typicality.audit_folder import PairDesign, ScoreResult
from typicality.data.preference_data import PreferenceData
from typicality.errors import TypicalityError
from typicality.stats.pair_design import TYPICALITY_COLUMNS, build_pairs


@dataclass
class Agreement:
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

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.rate is None:
            return f"Agreement ({self.typicality}): no pairs. " + " ".join(self.warnings)
        return (
            f"Agreement ({self.typicality}): {self.rate:.1%} of {self.n_pairs} pairs prefer the more typical response "
            f"(Wilson 95% CI {self.ci_low:.1%} to {self.ci_high:.1%}; exact binomial p = {self.p_value:.3g} vs 50%)"
        )


def agreement_rate(
    design: PairDesign | PreferenceData,
    scores: ScoreResult | pd.DataFrame | None = None,
    *,
    typicality: str = "mean_logprob",
    seed: int = 0,
) -> Agreement:
    """The agreement rate on a pair design, or on data + scores (a design is built first)."""
    if isinstance(design, PreferenceData):
        if scores is None:
            raise TypicalityError("agreement_rate(data, scores): the scores table is missing.")
        design = build_pairs(design, scores, seed=seed)
    if typicality not in TYPICALITY_COLUMNS:
        raise TypicalityError(f"typicality must be one of {', '.join(TYPICALITY_COLUMNS)}, got '{typicality}'.")
    decided = design.frame[design.frame["label"] != 0.5]
    delta = decided[TYPICALITY_COLUMNS[typicality]].to_numpy(dtype=float)
    label = decided["label"].to_numpy(dtype=float)
    unequal = delta != 0
    # The preferred response is the more typical one when the label and the sign of delta agree.
    agree = ((label == 1.0) & (delta > 0)) | ((label == 0.0) & (delta < 0))
    n_pairs, n_agree = int(unequal.sum()), int(agree.sum())
    ties = int((~unequal).sum())
    notes = [f"{ties} pairs with exactly equal {typicality} are left out."] if ties else []
    if n_pairs == 0:
        return Agreement(typicality, None, None, None, None, 0, 0, ties, notes + ["No decided pairs: the agreement rate is undefined."])
    low, high = proportion_confint(n_agree, n_pairs, alpha=0.05, method="wilson")
    p_value = binomtest(n_agree, n_pairs, p=0.5, alternative="two-sided").pvalue
    return Agreement(typicality, n_agree / n_pairs, float(low), float(high), float(p_value), n_agree, n_pairs, ties, notes)

