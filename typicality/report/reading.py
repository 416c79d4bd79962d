"""Reading the pairs for display: the pair orientation undone; no decisions.

Every decision (which fit is the headline, its length-controlled twin, slice membership) is
made by the stats stage and read from `typicality.results.AuditResults` (`headline_estimate`,
`length_controlled_estimate`, `curve_estimate`, `estimate(id)`).
"""

from __future__ import annotations

import pandas as pd


def decisive_pairs(pairs: pd.DataFrame, column: str = "delta_mean_logprob") -> pd.DataFrame:
    """Pairs with a winner (ties left out), with `delta_preferred` = preferred minus rejected.

    The pair table stores Δ as first minus second and `label` = 1 when the first is preferred,
    so the preferred-minus-rejected Δ is Δ when label is 1 and -Δ when label is 0.
    """
    labels = pd.to_numeric(pairs["label"], errors="coerce")
    decisive = pairs[labels.isin([0.0, 1.0]) & pairs[column].notna()].copy()
    first_preferred = decisive["label"].astype(float) == 1.0
    decisive["delta_preferred"] = decisive[column].where(first_preferred, -decisive[column]).astype(float)
    decisive["preferred_id"] = decisive["response_a"].where(first_preferred, decisive["response_b"])
    decisive["rejected_id"] = decisive["response_b"].where(first_preferred, decisive["response_a"])
    return decisive
