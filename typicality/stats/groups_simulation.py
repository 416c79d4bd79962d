"""How well the per-group estimator (stats/groups.py) works, measured on simulated annotators with known slopes.

Each dataset: `n_groups` annotators, annotator g with slope alpha_g ~ N(alpha, tau^2); each judges
every within-prompt pair of its own prompts, under the simulator's model (stats/simulation.py:
`draw_responses`, the paper's Bradley-Terry model with correctness = true quality). Each group's
fit is the adjusted one (Δtypicality + Δcorrectness, prompt-clustered), so the group's alpha is
estimated without bias and what is measured is the pooling. All datasets are drawn at once and
all groups fitted by one vectorised Newton (`grouped_logit`); stage 2 runs per dataset.

Measured (`validate`): coverage of the partially pooled intervals averaged over groups and
datasets (and of plain plug-in empirical Bayes, for comparison); coverage of tau by its
Q-profile CI; the rejection rate of the no-heterogeneity test (size at tau = 0, power otherwise);
mean tau-hat; and coverage of the population alpha's interval.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from math import comb

import numpy as np

from typicality.stats.groups import grouped_logit, random_effects, stage2_variance
from typicality.stats.simulation import draw_responses, within_prompt_pairs


@dataclass(frozen=True)
class GroupValidation:
    n_datasets: int
    n_groups: int
    pairs_per_group: int
    alpha: float
    tau: float
    coverage_pooled: float  # share of (dataset, group) whose partially pooled 95% interval holds the true alpha_g
    coverage_plugin: float  # the same for plug-in empirical Bayes (tau-hat taken as known)
    coverage_raw: float  # each group's own 95% interval (normal)
    coverage_population: float  # datasets whose population-alpha interval holds alpha
    coverage_tau: float  # datasets whose Q-profile CI holds tau
    rejection_rate: float  # datasets where Cochran's Q rejects tau = 0 at 5%
    mean_tau_hat: float
    rmse_pooled: float  # root mean squared error of the pooled alphas
    rmse_raw: float  # and of the groups' own
    n_failed: int  # groups without a converged fit (left out of their dataset's stage 2)
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def simulate_group_pairs(n_datasets: int, n_groups: int, pairs_per_group: int, alpha: float, tau: float, seed: int = 0, responses_per_prompt: int = 4):
    """(true slopes, y, X, group, prompt) for n_datasets * n_groups groups; group j belongs to dataset j // n_groups."""
    per_prompt = comb(responses_per_prompt, 2)
    prompts_per_group = max(1, round(pairs_per_group / per_prompt))
    rng = np.random.default_rng(seed)
    total_groups = n_datasets * n_groups
    slopes = alpha + tau * rng.normal(size=total_groups)
    prompts = total_groups * prompts_per_group
    group_of_prompt = np.arange(prompts) // prompts_per_group
    drawn = draw_responses(rng, prompts, responses_per_prompt, np.repeat(slopes[group_of_prompt], responses_per_prompt))
    rows_a, rows_b = within_prompt_pairs(prompts, responses_per_prompt)
    helpfulness = drawn["helpfulness"]
    y = (helpfulness[rows_a] > helpfulness[rows_b]).astype(float)
    X = np.column_stack([drawn["mean_logprob"][rows_a] - drawn["mean_logprob"][rows_b], drawn["correctness"][rows_a] - drawn["correctness"][rows_b]])
    prompt = drawn["prompt_index"][rows_a]
    return slopes, y, X, group_of_prompt[prompt], prompt


def simulate_group_fits(n_datasets: int, n_groups: int, pairs_per_group: int, alpha: float, tau: float, seed: int = 0, responses_per_prompt: int = 4):
    """(true slopes, GroupedFits) for n_datasets * n_groups groups; group j belongs to dataset j // n_groups."""
    slopes, y, X, group, prompt = simulate_group_pairs(n_datasets, n_groups, pairs_per_group, alpha, tau, seed, responses_per_prompt)
    return slopes, grouped_logit(y, X, group, prompt)


def validate(n_datasets: int, n_groups: int, pairs_per_group: int, alpha: float, tau: float, seed: int = 0, responses_per_prompt: int = 4) -> GroupValidation:
    """The measures of the module docstring over n_datasets simulated datasets."""
    start = time.perf_counter()
    slopes, fits = simulate_group_fits(n_datasets, n_groups, pairs_per_group, alpha, tau, seed, responses_per_prompt)
    ok = fits.converged & (fits.se > 0)
    covered_pooled, covered_plugin, covered_raw, squared_pooled, squared_raw = [], [], [], [], []
    covered_population, covered_tau, rejected, tau_hats = [], [], [], []
    for d in range(n_datasets):
        members = np.arange(d * n_groups, (d + 1) * n_groups)
        members = members[ok[members]]
        truth, estimate, se = slopes[members], fits.alpha[members], fits.se[members]
        effects = random_effects(estimate, stage2_variance(se, fits.n_clusters[members], fits.model_variance[members]))
        covered_pooled.append((effects.pooled_low <= truth) & (truth <= effects.pooled_high))
        covered_plugin.append((effects.plugin_low <= truth) & (truth <= effects.plugin_high))
        covered_raw.append(np.abs(estimate - truth) <= 1.959964 * se)
        squared_pooled.append((effects.pooled - truth) ** 2)
        squared_raw.append((estimate - truth) ** 2)
        covered_population.append(effects.mu_low <= alpha <= effects.mu_high)
        covered_tau.append(effects.tau_low <= tau <= effects.tau_high)
        rejected.append(effects.q_p_value < 0.05)
        tau_hats.append(effects.tau)
    return GroupValidation(
        n_datasets=n_datasets, n_groups=n_groups, pairs_per_group=pairs_per_group, alpha=alpha, tau=tau,
        coverage_pooled=float(np.mean(np.concatenate(covered_pooled))),
        coverage_plugin=float(np.mean(np.concatenate(covered_plugin))),
        coverage_raw=float(np.mean(np.concatenate(covered_raw))),
        coverage_population=float(np.mean(covered_population)),
        coverage_tau=float(np.mean(covered_tau)),
        rejection_rate=float(np.mean(rejected)),
        mean_tau_hat=float(np.mean(tau_hats)),
        rmse_pooled=math.sqrt(float(np.mean(np.concatenate(squared_pooled)))),
        rmse_raw=math.sqrt(float(np.mean(np.concatenate(squared_raw)))),
        n_failed=int((~ok).sum()),
        seconds=time.perf_counter() - start,
    )
