"""The per-group estimator's validation table (docs/groups.md), and its comparison with a random-slope mixed logit.

    PYTHONPATH=. .venv/bin/python benchmarks/groups_tables.py                 # the table: 500 datasets per row
    PYTHONPATH=. .venv/bin/python benchmarks/groups_tables.py --sims 100      # a quick look
    PYTHONPATH=. .venv/bin/python benchmarks/groups_tables.py --mixed 20      # two-stage vs BinomialBayesMixedGLM on 20 datasets

The table: typicality.stats.groups_simulation.validate per scenario (annotators judging every
pair of their own prompts, 4 responses per prompt, true alpha 0.8, the adjusted fit per group).
The comparison fits the same simulated datasets both ways and reports per-group interval
coverage, tau and seconds per dataset.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sparse

from typicality.stats.groups import random_effects, stage2_variance
from typicality.stats.groups_simulation import simulate_group_fits, validate
from typicality.stats.simulation import draw_responses, within_prompt_pairs

SCENARIOS = [(20, 60, tau) for tau in (0.0, 0.2, 0.3, 0.5)] + [(50, 200, tau) for tau in (0.0, 0.1, 0.2, 0.3)]
ALPHA = 0.8


def table(sims: int) -> None:
    print(f"| groups | pairs/group | tau | pooled coverage | plug-in EB coverage | raw coverage | tau in CI | Q rejects (5%) | mean tau-hat "
          f"| population alpha in CI | RMSE pooled / raw | s |  ({sims} datasets per row, alpha {ALPHA})")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed, (groups, pairs, tau) in enumerate(SCENARIOS):
        r = validate(sims, groups, pairs, ALPHA, tau, seed=seed)
        print(
            f"| {groups} | {pairs} | {tau:.1f} | {r.coverage_pooled:.1%} | {r.coverage_plugin:.1%} | {r.coverage_raw:.1%} | {r.coverage_tau:.1%} "
            f"| {r.rejection_rate:.1%} | {r.mean_tau_hat:.3f} | {r.coverage_population:.1%} | {r.rmse_pooled:.3f} / {r.rmse_raw:.3f} | {r.seconds:.0f} |",
            flush=True,
        )


def mixed_comparison(sims: int, groups: int = 20, pairs: int = 150, tau: float = 0.3) -> None:
    """Two-stage against statsmodels' BinomialBayesMixedGLM (random slope on Δtypicality per group, variational Bayes)."""
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    covered = {"two-stage": [], "mixed logit": []}
    taus = {"two-stage": [], "mixed logit": []}
    seconds = {"two-stage": 0.0, "mixed logit": 0.0}
    for seed in range(sims):
        start = time.perf_counter()
        slopes, fits = simulate_group_fits(1, groups, pairs, ALPHA, tau, seed=1000 + seed)
        effects = random_effects(fits.alpha, stage2_variance(fits.se, fits.n_clusters, fits.model_variance))
        seconds["two-stage"] += time.perf_counter() - start
        covered["two-stage"].append((effects.pooled_low <= slopes) & (slopes <= effects.pooled_high))
        taus["two-stage"].append(effects.tau)

        # The same data again (same seed), as rows for the mixed model.
        rng = np.random.default_rng(1000 + seed)
        truth = ALPHA + tau * rng.normal(size=groups)
        per_group = max(1, round(pairs / 6))
        prompts = groups * per_group
        group_of_prompt = np.arange(prompts) // per_group
        drawn = draw_responses(rng, prompts, 4, np.repeat(truth[group_of_prompt], 4))
        a, b = within_prompt_pairs(prompts, 4)
        y = (drawn["helpfulness"][a] > drawn["helpfulness"][b]).astype(float)
        delta = drawn["mean_logprob"][a] - drawn["mean_logprob"][b]
        correctness = drawn["correctness"][a] - drawn["correctness"][b]
        group = group_of_prompt[drawn["prompt_index"][a]]
        start = time.perf_counter()
        exog = np.column_stack([delta, correctness])
        exog_vc = sparse.csr_matrix((delta, (np.arange(len(y)), group)), shape=(len(y), groups))
        model = BinomialBayesMixedGLM(y, exog, exog_vc, ident=np.zeros(groups, dtype=int), fe_p=2, vcp_p=1)
        result = model.fit_vb()
        seconds["mixed logit"] += time.perf_counter() - start
        effects_mean, effects_sd = np.asarray(result.vc_mean), np.asarray(result.vc_sd)
        fixed_mean, fixed_sd = float(result.fe_mean[0]), float(result.fe_sd[0])
        mean = fixed_mean + effects_mean
        sd = np.sqrt(effects_sd**2 + fixed_sd**2)
        covered["mixed logit"].append(np.abs(mean - truth) <= 1.959964 * sd)
        taus["mixed logit"].append(float(np.exp(result.vcp_mean[0])))
    print(f"{sims} datasets of {groups} groups x {pairs} pairs, tau {tau}, alpha {ALPHA}")
    print("| estimator | per-group coverage | mean tau-hat | seconds per dataset |")
    print("|---|---:|---:|---:|")
    for name in covered:
        print(f"| {name} | {np.mean(np.concatenate(covered[name])):.1%} | {np.mean(taus[name]):.3f} | {seconds[name] / sims:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=500, help="simulated datasets per scenario (default 500)")
    parser.add_argument("--mixed", type=int, metavar="N", help="instead: compare with the mixed logit on N datasets")
    args = parser.parse_args()
    if args.mixed:
        mixed_comparison(args.mixed)
    else:
        table(args.sims)


if __name__ == "__main__":
    main()
