"""The report's "what alpha would do to a trained model" section: words for results.json's `sharpening` (computed in stats)."""

from __future__ import annotations

from typicality.formatting import fmt, fmt_coef, fmt_interval
from typicality.report.section import Column, Section, Table
from typicality.results import Sharpening

TITLE = "What this alpha would do to a trained model"
COLUMNS = (Column("KL coefficient β", number=True), Column("γ = 1 + alpha/β", number=True), Column("95% CI", interval=True))


def sharpening_section(sharpening: Sharpening) -> Section:
    """Sentences and a table of γ for the section; the reason when no γ is given."""

    model = (
        "Under the paper's model (§3), a reward r_true + alpha · log π_ref(y|x), optimised with a KL penalty of coefficient β "
        "towards the reference model, has its optimum at π*(y|x) ∝ π_ref(y|x)^γ · exp(r_true(x, y)/β) with γ = 1 + alpha/β: "
        "γ above 1 sharpens the reference model's distribution towards its typical responses."
    )
    caveat = (
        "These γ are a consequence of that model if a policy were trained on this data's preferences; "
        "they are not measured on any trained model."
    )
    if not sharpening.available:
        return Section("sharpening", TITLE, (model, f"No γ is given: {sharpening.reason}."), note=caveat)
    source = (
        f"alpha = {fmt_coef(sharpening.alpha)} per nat of sequence log-likelihood (95% CI {fmt_interval(sharpening.ci_low, sharpening.ci_high)}), "
        f"from the fit {sharpening.estimate}: the summed log-likelihood with length held fixed, because the derivation's log π_ref(y|x) "
        "is a sequence log-likelihood; the headline alpha is per token and is not converted."
    )
    rows = tuple((f"{gamma.beta:g}", fmt(gamma.gamma), fmt_interval(gamma.ci_low, gamma.ci_high)) for gamma in sharpening.gammas)
    return Section("sharpening", TITLE, (model, source), tables=(Table(COLUMNS, rows),) if rows else (), note=caveat)
