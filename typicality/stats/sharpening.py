"""What the measured alpha would do to a trained model: the sharpening exponent gamma = 1 + alpha / beta.

The paper's derivation (Zhang et al. 2025, §3): if a policy is trained against a reward
r(x, y) = r_true(x, y) + alpha log pi_ref(y | x) with a KL penalty of coefficient beta towards
pi_ref, the KL-regularised optimum is

    pi*(y | x) ∝ pi_ref(y | x)^gamma exp(r_true(x, y) / beta),   gamma = 1 + alpha / beta,

so gamma > 1 sharpens the reference distribution (typical responses gain mass beyond their
true quality). This is a consequence of the model, not a measurement of any trained model.

Scale. `log pi_ref(y | x)` there is the sequence log-likelihood: the sum of the response's
token log-probabilities. The audit's headline alpha is fitted on the mean per token, and a
coefficient per nat-per-token is not one per nat of sequence log-likelihood (at a fixed length n,
Δmean = Δsum / n, so alpha_mean / n is a per-sequence coefficient only for responses of that one
length, and lengths vary). So gamma is derived from the fit whose scale matches: the summed
typicality on the headline's slice with the headline's controls plus the length control
(Δ log token count). Holding length fixed keeps length-driven preferences (longer answers have
lower sums) out of alpha; the remaining coefficient is per nat of sequence log-likelihood, as
in the derivation. No conversion from the mean-scale alpha is attempted.

Each gamma carries the interval 1 + [ci_low, ci_high] / beta (gamma is increasing in alpha for
beta > 0, so the alpha CI maps to a gamma CI).
"""

from __future__ import annotations

from typicality.results import LENGTH_CONTROL, Estimate, Gamma, Sharpening
from typicality.stats.options import DEFAULT_BETAS, check_betas  # noqa: F401  (part of this module's interface)

SEQUENCE_TYPICALITY = "sum_logprob"


def sequence_scale_estimate(estimates: list[Estimate], headline: Estimate | None) -> Estimate | None:
    """The summed-typicality, length-controlled estimate on the headline's slice and controls (None when absent)."""
    if headline is None:
        return None
    wanted = sorted([name for name in headline.controls if name != LENGTH_CONTROL] + [LENGTH_CONTROL])
    return next(
        (e for e in estimates if e.slice == headline.slice and e.typicality == SEQUENCE_TYPICALITY and sorted(e.controls) == wanted),
        None,
    )


def sharpening(estimates: list[Estimate], headline: Estimate | None, betas=DEFAULT_BETAS) -> Sharpening:
    """results.json's `sharpening`: gamma = 1 + alpha / beta (with its CI) for each beta, from the sequence-scale fit."""
    betas = check_betas(betas)
    source = sequence_scale_estimate(estimates, headline)
    base = {
        "betas": list(betas),
        "formula": "gamma = 1 + alpha / beta",
        "scale": "sequence log-likelihood (sum of token log-probabilities), length controlled",
    }
    if source is None or not source.fitted:
        why = (
            "the summed-typicality, length-controlled fit on the headline's slice was not run"
            if source is None
            else f"that fit could not run ({source.reason})"
        )
        return Sharpening(**base, available=False, estimate=source.id if source else None, reason=why)
    alpha, low, high = source.alpha, source.ci_low, source.ci_high
    return Sharpening(
        **base,
        available=True,
        estimate=source.id,
        reason="the derivation's log pi_ref(y|x) is a sequence log-likelihood, so alpha is taken from the summed-typicality fit with length held fixed",
        alpha=alpha,
        ci_low=low,
        ci_high=high,
        gammas=[Gamma(beta=beta, gamma=1.0 + alpha / beta, ci_low=1.0 + low / beta, ci_high=1.0 + high / beta) for beta in betas],
    )
