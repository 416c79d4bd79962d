"""Coverage and mean bias of the estimators over many simulated datasets (the tables in docs/validity.md).

    .venv/bin/python benchmarks/validity_tables.py            # 1,000 datasets per scenario (~15 min on one core)
    .venv/bin/python benchmarks/validity_tables.py --sims 100 # a quick look

Each dataset: `typicality.simulate(alpha, PROMPTS, RESPONSES)` (every within-prompt pair judged),
pairs built by `build_pairs`, and each estimator fitted with prompt-clustered sandwich SEs and
t(G-1) intervals (the fits `typicality fit` reports, through the fast Newton path of
typicality.stats.pairwise_models, which tests check against statsmodels). The ratio
alpha / beta_correctness gets a delta-method interval from the same clustered covariance.

Scenarios: continuous helpfulness (the paper's model exactly); 5-level helpfulness (ties), each
estimator; correctness as a coarse proxy of continuous quality (its quintile); no quality
control at all (the fit every pairwise dataset gets). Mean bias is the mean estimate minus
the truth; "MC SE" is the Monte Carlo standard error of that mean.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.stats import t as student_t

from typicality.stats import build_pairs, simulate
from typicality.stats.pairwise_models import fit_logit, fit_rao_kupper

PROMPTS, RESPONSES, ALPHA = 120, 6, 0.5


def interval(estimate: float, se: float, n_clusters: int) -> tuple[float, float]:
    half = student_t.ppf(0.975, n_clusters - 1) * se
    return estimate - half, estimate + half


def ratio_interval(params: np.ndarray, cov: np.ndarray, n_clusters: int) -> tuple[float, float, float]:
    """alpha / beta_correctness (params[0] / params[1]) and its delta-method t interval."""
    ratio = params[0] / params[1]
    gradient = np.array([1 / params[1], -params[0] / params[1] ** 2])
    se = math.sqrt(gradient @ cov[:2, :2] @ gradient)
    return (ratio, *interval(ratio, se, n_clusters))


def one_dataset(seed: int, scenario: str) -> dict[str, tuple[float, float, float]]:
    """Each estimator's (estimate, ci_low, ci_high) on one simulated dataset."""
    levels = 5 if scenario in ("5-level", "5-level, alpha 0") else None
    alpha = 0.0 if scenario == "5-level, alpha 0" else ALPHA
    noise = 0.0 if scenario == "coarse proxy" else None
    data, scores = simulate(alpha, PROMPTS, RESPONSES, seed=seed, rating_levels=levels, correctness_noise=noise)
    frame = build_pairs(data, scores, seed=seed, ties="half").frame
    y = frame["label"].to_numpy()
    X = frame[["delta_mean_logprob", "delta_correctness"]].to_numpy(float)
    groups = frame["prompt_id"].to_numpy()
    decided = y != 0.5
    equal = frame["delta_correctness"].to_numpy() == 0
    found = {}

    def logit(name, rows, columns, ratio=False):
        fit = fit_logit(y[rows], X[rows][:, columns], groups[rows])
        found[name] = (fit.params[0], *interval(fit.params[0], fit.se[0], fit.n_clusters))
        if ratio:
            found[name + ": alpha/beta"] = ratio_interval(fit.params, fit.cov, fit.n_clusters)

    if scenario == "no quality control":
        logit("all pairs, no control", decided, [0])
        return found
    # Under the coarse proxy the observed correctness has no true coefficient, so no ratio there.
    logit("adjusted (ties dropped)" if levels else "adjusted", decided, [0, 1], ratio=scenario != "coarse proxy")
    logit("equal-correctness (ties dropped)" if levels else "equal-correctness", decided & equal, [0])
    if levels:
        fit = fit_rao_kupper(y, X, groups)
        found["adjusted (Rao-Kupper, ties kept)"] = (fit.params[0], *interval(fit.params[0], fit.se[0], fit.n_clusters))
        found["adjusted (Rao-Kupper, ties kept): alpha/beta"] = ratio_interval(fit.params, fit.cov, fit.n_clusters)
        fit = fit_rao_kupper(y[equal], X[equal][:, [0]], groups[equal])
        found["equal-correctness (Rao-Kupper, ties kept)"] = (fit.params[0], *interval(fit.params[0], fit.se[0], fit.n_clusters))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--scenarios", nargs="+", default=["continuous", "5-level", "5-level, alpha 0", "coarse proxy", "no quality control"])
    args = parser.parse_args()
    print(
        f"{args.sims} datasets per scenario, {PROMPTS} prompts x {RESPONSES} responses (every "
        f"pair judged), true alpha {ALPHA} (beta_correctness 1, so the true ratio is alpha)\n"
    )
    print("| scenario | estimator | mean estimate | truth | mean bias (MC SE) | 95% CI coverage |")
    print("|---|---|---|---|---|---|")
    for scenario in args.scenarios:
        started = time.time()
        rows: dict[str, list] = {}
        for seed in range(args.sims):
            for name, values in one_dataset(seed, scenario).items():
                rows.setdefault(name, []).append(values)
        for name, values in rows.items():
            values = np.array(values)
            truth = 0.0 if scenario == "5-level, alpha 0" else ALPHA
            estimates, covered = values[:, 0], (values[:, 1] <= truth) & (truth <= values[:, 2])
            bias, mc_se = estimates.mean() - truth, estimates.std(ddof=1) / math.sqrt(len(estimates))
            print(f"| {scenario} | {name} | {estimates.mean():.3f} | {truth:g} | {bias:+.3f} ({mc_se:.3f}) | {covered.mean():.1%} |", flush=True)
        print(f"<!-- {scenario}: {time.time() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
