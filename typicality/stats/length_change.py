"""The change in alpha when the length control is added, with a prompt-cluster bootstrap CI.

"Alpha survives the length control" compares two significance verdicts, which is not a test of
the change. This module resamples prompts with replacement, refits both models (without and
with Δ log length) on the same resampled pairs, and takes the percentile interval of the
difference. Note that a logit coefficient can move when a control is added even when the
control is not a confounder (the odds ratio is not collapsible), so a change is a prompt to
look, not proof of confounding by length.
"""

from __future__ import annotations

import numpy as np

from typicality.domain import PairDesign
from typicality.stats.pair_design import LENGTH_CONTROL
from typicality.stats.pairwise_logit import PairwiseLogit, PairwiseSpec

DEFAULT_DRAWS = 200


def alpha_change_interval(design: PairDesign, estimate: dict, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> dict:
    """Bootstrap draws of alpha(with length) - alpha(without) on the estimate's slice: se, percentile CI, failures.

    Both refits are the length-controlled `PairwiseLogit` of the estimate's spec on the same
    resampled pairs, the one without its length column (so both keep the paper construction's intercept).
    """
    spec = PairwiseSpec.of(estimate)
    controls = tuple(name for name in spec.controls if name != LENGTH_CONTROL) + (LENGTH_CONTROL,)
    model = PairwiseLogit(design, PairwiseSpec(spec.slice, spec.typicality, controls))
    without_length = [index for index, name in enumerate(model.names) if name != LENGTH_CONTROL]
    members = model.cluster_members()
    rng = np.random.default_rng(seed)
    differences, failed = [], 0
    for _ in range(n_draws):
        chosen = rng.integers(0, len(members), size=len(members))
        rows = np.concatenate([members[g] for g in chosen])
        without = model.refit(rows, columns=without_length)
        with_length = model.refit(rows)
        if without is not None and with_length is not None:
            differences.append(with_length.params[0] - without.params[0])
        else:
            failed += 1
    result = {
        "n_draws": int(n_draws),
        "n_failed": int(failed),
        "se": None,
        "ci_low": None,
        "ci_high": None,
        "method": "prompt-cluster bootstrap, percentile 95% interval",
    }
    if len(differences) >= 2:
        low, high = np.percentile(differences, [2.5, 97.5])
        result.update(se=float(np.std(differences, ddof=1)), ci_low=float(low), ci_high=float(high))
    return result
