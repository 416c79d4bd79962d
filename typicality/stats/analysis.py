"""The whole stats stage in one call: pair design, the robustness set of fits, agreement, ordinal model -> results.json.

Default estimates (`controls=None`), headline first:
- with a correctness rating C: equal-correctness slice (none; length), the adjusted fit on all
  pairs (C; C + length), all pairs without C (none; length), each for mean and sum typicality;
  per subset/domain slice: mean typicality with (C; C + length);
- without one: all pairs (none; length) for mean and sum; per slice: mean with (none; length).
With `controls=[...]` every selected slice is fitted with exactly those controls, for both
typicality definitions (a correctness control is left out of the equal-correctness slice).
"""

from __future__ import annotations

import math

import pandas as pd

from typicality.domain import PairDesign, PreferenceData, ScoreResult
from typicality.errors import TypicalityError, require_type
from typicality.results import AlphaChange, AuditResults, DatasetInfo, Estimate, Groups, Headline, OrdinalFit, PairAccounting, ScoreCard
from typicality.software import software_versions
from typicality.stats.agreement import agreement_rate
from typicality.stats.debias import debiasing_summary
from typicality.stats.groups import METHOD as GROUPS_METHOD
from typicality.stats.groups import fit_groups, group_column_values
from typicality.stats.memorization import memorization
from typicality.stats.multiplicity import holm_adjust
from typicality.stats.negative_control import negative_control
from typicality.stats.options import PAIR_CONSTRUCTIONS, TYPICALITIES, AnalysisOptions  # noqa: F401  (part of this module's interface)
from typicality.stats.ordinal import ordinal_logit, preference_rating
from typicality.stats.pair_design import (
    ALL_PAIRS,
    EQUAL_CORRECTNESS,
    LENGTH_CONTROL,
    build_pairs,
    control_name,
    expand_slices,
    pair_accounting,
    slice_count,
    unsliced_columns,
)
from typicality.stats.pairwise_logit import MIN_CLUSTERS, PairwiseSpec
from typicality.stats.scores_table import CheckedScores, check_scores, require_scores
from typicality.stats.sensitivity import sensitivity
from typicality.stats.sharpening import sharpening
from typicality.stats.style import STYLE, style_estimate, with_style_columns, without_style
from typicality.stats.ties import tie_aware_estimates, ties_summary
from typicality.stats.typicality_bias import TypicalityBias
from typicality.stats.validity import alpha_change_with_interval, design_with_ties, interpretation

STATS_PACKAGES = ("typicality", "numpy", "pandas", "scipy", "statsmodels")


def analyze(
    data: PreferenceData,
    scores: ScoreResult | CheckedScores | pd.DataFrame,
    options: AnalysisOptions | None = None,
    *,
    design: PairDesign | None = None,
    unconditional: ScoreResult | pd.DataFrame | None = None,
    **settings,
) -> AuditResults:
    """The typed results of every estimator (`analyze_with_design` says what runs); `analyze_with_design` also returns the pair design."""
    return analyze_with_design(data, scores, options, design=design, unconditional=unconditional, **settings)[0]


def analyze_with_design(
    data: PreferenceData,
    scores: ScoreResult | CheckedScores | pd.DataFrame,
    options: AnalysisOptions | None = None,
    *,
    design: PairDesign | None = None,
    unconditional: ScoreResult | pd.DataFrame | None = None,
    **settings,
) -> tuple[AuditResults, PairDesign]:
    """Build the pair design (or take `design` from build_pairs) and run every estimator -> (the typed results, the pair design).

    `typicality.audit_folder.save_analysis(results, design, folder)` writes both (results.json and pairs.parquet).

    `scores`: the scorer's `ScoreResult` (its card becomes results.json's `model`), or a plain
    table. `options` (or the same settings as keywords: controls, slices, typicalities, seed,
    bootstrap, ties) choose the fits. Fits that cannot run are listed with their reason and
    null numbers; nothing is NaN. `unconditional`: each response's scores without its prompt
    (stats/negative_control.py), for the fluency negative control.

    Each section is built once, by a pure function, in this order (a later step reads only what
    an earlier one returned):
      1. the robustness set of fits (`fit_estimates`) and the pre-specified headline (`headline`);
      2. memorization: its counts and the headline refitted without memorized pairs (`memorization`); with `style`
         among the controls, the headline refitted with length and Arena's style differences (`style_estimate`);
      3. debiasing, from the tie-dropping fits above (`debiasing_summary`);
      4. sharpening, from the summed-typicality length-controlled fit (`sharpening`);
      5. ties: the Rao-Kupper rows beside the tie-dropping fits, when the data has ties (`tie_aware_estimates`);
      6. the fluency negative control rows, when unconditional scores are given (`negative_control`);
      7. the bootstrap CI of the headline's change in alpha with length (`alpha_change_with_interval`);
      8. the interpretation and the E-values of the headline (`interpretation`, `sensitivity`);
      9. Holm across every fitted row but the headline, all of the rows above included (`holm_adjust`);
     10. with `by`: the headline fit per group of that column, partially pooled (`by_group`).
    """
    require_type("analyze", "data", data, PreferenceData, "a PreferenceData", "load it with typicality.load(...)")
    require_scores("analyze", scores)
    require_type("analyze", "options", options, (AnalysisOptions, type(None)), "an AnalysisOptions or None")
    require_type("analyze", "design", design, (PairDesign, type(None)), "a PairDesign (typicality.build_pairs) or None")
    require_type("analyze", "unconditional", unconditional, (ScoreResult, pd.DataFrame, type(None)), "a ScoreResult, a scores DataFrame or None")
    if options is not None and settings:
        raise TypicalityError(f"Give analyze() either options or keyword settings, not both ({', '.join(settings)}).")
    options = options or AnalysisOptions.from_dict(settings)
    scores = check_scores(scores)
    check_analyzable(data, options.ties)
    if design is None:
        design = build_design(data, scores, options)
    accounting = pair_accounting(design)
    if len(design) == 0:
        dropped = ", ".join(f"{count} {reason}" for reason, count in (accounting.dropped or {}).items()) or "none"
        raise TypicalityError(
            f"Dataset '{data.name}' has no usable pairs: {accounting.comparisons} comparisons, dropped: {dropped}. {_no_pairs_hint(accounting)}"
        )
    _refuse_one_prompt(data.name, design.frame["prompt_id"], "usable pairs (both responses scored)")
    if options.by is not None:
        group_column_values(design, options.by)  # an unknown column fails here, before any fit
    style = options.controls is not None and STYLE in options.controls
    if style:  # the style differences, counted once from the texts, become columns of the design (and of pairs.parquet)
        design = with_style_columns(design, data)
    warnings = data_warnings(accounting)
    if options.slices is None:
        warnings.extend(
            f"Metadata column '{column}' has {why}: it is not split into slices by default (one fit per value would be noise); "
            f"name it with --slice {column} to fit one slice per value anyway."
            for column, why in unsliced_columns(design).items()
        )
    estimates = fit_estimates(design, options, warnings)  # 1
    ordinal = _ordinal(data, scores, options, warnings)  # beside the pairwise fits: the rating itself, when the data rates responses
    chosen = headline(estimates)
    headline_fit = _by_id(estimates, chosen.estimate)
    default_set = without_style(options.controls) is None and options.slices is None
    memorized, not_memorized = memorization(design, scores.usable, headline_fit, default_set=default_set)  # 2
    if not_memorized is not None:
        estimates.append(not_memorized)
    if style and headline_fit is not None and headline_fit.fitted:  # 2b: is alpha style in disguise
        estimates.append(style_estimate(design, headline_fit, options.seed))
    slices = slice_counts(design, estimates)
    debiasing = debiasing_summary(design, estimates, headline_fit, data.correctness)  # 3
    sharpened = sharpening(estimates, headline_fit, options.betas)  # 4
    ties = None
    tied = design_with_ties(design, data, scores, options.seed)  # 5
    if tied is not None:
        estimates.extend(tie_aware_estimates(tied, estimates))
        ties = ties_summary(tied, estimates)
    control = None
    if unconditional is not None:  # 6
        rows, control = negative_control(design, unconditional, headline_fit)
        estimates.extend(rows)
    chosen = chosen.replace(alpha_change=alpha_change_with_interval(chosen.alpha_change, design, headline_fit, options.change_draws, options.seed))  # 7
    estimates, multiplicity = holm_adjust(estimates, chosen.estimate)  # 9
    groups = by_group(design, options, headline_fit)  # 10
    results = AuditResults(
        dataset=DatasetInfo(**dataset_info(data)),
        model=_model_entry(scores, design),
        headline=chosen,
        estimates=tuple(estimates),
        slices=slices,
        agreement=agreement_rate(design, typicality=options.typicalities[0], seed=options.seed, one_pair_per_prompt=options.one_pair_per_prompt),
        ordinal=ordinal,
        pairs=accounting,
        settings={**options.to_dict(), "ties": design.ties},
        warnings=tuple(warnings),
        software=software_versions(STATS_PACKAGES),
        memorized=memorized,
        debiasing=debiasing,
        sharpening=sharpened,
        ties=ties,
        negative_control=control,
        interpretation=interpretation(headline_fit, design.correctness),  # 8
        sensitivity=sensitivity(headline_fit if headline_fit is not None and headline_fit.fitted else None),
        multiplicity=multiplicity,
        groups=groups,
    )
    return _finite(results), design


def check_analyzable(data: PreferenceData, ties: str) -> None:
    """Refuse data that can give no fit whatever the scores, before anything is scored (the pipeline calls it right after loading).

    Every judged comparison a tie while ties are dropped leaves nothing to fit (the fix is --ties half);
    comparisons under one prompt only leave one cluster, and the prompt-clustered SEs need at least 2.
    """
    labels = pd.to_numeric(data.comparisons["label"], errors="coerce")
    judged = labels.notna().to_numpy().copy()
    if ties == "drop" and judged.any():
        tied = judged & (labels == 0.5).to_numpy()
        if tied.sum() == judged.sum():
            raise TypicalityError(
                f"All {int(tied.sum()):,} judged comparisons of dataset '{data.name}' are ties, and ties are dropped (--ties drop, the default), "
                "so no pair is left to fit. Pass --ties half to keep each tie as half a preference (analyze(..., ties='half'))."
            )
        judged &= ~tied
    if judged.any():
        what = "judged comparisons" if ties == "half" else "judged comparisons that are not ties"
        _refuse_one_prompt(data.name, pd.Series(data.comparisons["prompt_id"].to_numpy()[judged]), what)


def _refuse_one_prompt(name: str, prompt_ids: pd.Series, what: str) -> None:
    if prompt_ids.nunique() < 2:
        raise TypicalityError(
            f"Dataset '{name}': all {len(prompt_ids):,} {what} are under one prompt. The fits cluster by prompt, and clustered "
            f"standard errors need at least 2 prompts (at least {MIN_CLUSTERS} for a fit); give data with more prompts."
        )


def _no_pairs_hint(accounting: PairAccounting) -> str:
    """The fix for a design without pairs, from the reason that dropped most comparisons."""
    dropped = accounting.dropped or {}
    reason = max(dropped, key=dropped.get) if dropped else None
    if reason == "tie (ties='drop')":
        return "Pass --ties half to keep each tie as half a preference."
    if reason == "missing label":
        return "Every comparison lacks a label: check the label column (--columns label=COLUMN)."
    return "Check that the scores belong to this data (same prompts and responses)."


def by_group(design: PairDesign, options: AnalysisOptions, headline_fit: Estimate | None) -> Groups | None:
    """With `by`: the headline fit per group of that column, partially pooled (stats/groups.py); None without."""
    if options.by is None:
        return None
    if headline_fit is None or not headline_fit.fitted:
        reason = "the headline fit could not run" + (f": {headline_fit.reason}" if headline_fit is not None else "")
        return Groups(column=options.by, estimate=headline_fit.id if headline_fit else None, min_pairs=options.min_group_pairs, method=GROUPS_METHOD,
                      multiplicity="holm", available=False, reason=reason)
    return fit_groups(design, options.by, PairwiseSpec.of(headline_fit), headline_fit.id, options.min_group_pairs)


def _finite(results: AuditResults) -> AuditResults:
    """The fits never hand out a NaN; this guard makes sure none reaches a report unannounced (null, with a warning)."""
    bad: list[str] = []
    content = json_ready(results.to_dict(), "", bad)
    if not bad:
        return results
    content["warnings"].append(f"Non-finite numbers were replaced by null at: {', '.join(bad)}.")
    return AuditResults.from_dict(content)


def _by_id(estimates: list[Estimate], estimate_id: str | None) -> Estimate | None:
    return next((estimate for estimate in estimates if estimate.id == estimate_id), None)


def build_design(data: PreferenceData, scores: CheckedScores, options: AnalysisOptions) -> PairDesign:
    """The pair design the options ask for: distinct responses (the default), or the paper's construction (stats/paper_pairs.py)."""
    if options.pairs == "paper":
        from typicality.stats.paper_pairs import build_paper_pairs

        return build_paper_pairs(data, scores, ties=options.ties)
    return build_pairs(data, scores, seed=options.seed, ties=options.ties)


def fit_estimates(design: PairDesign, options: AnalysisOptions, warnings: list[str]) -> list[Estimate]:
    """Every fit of the robustness set, headline first; fits that could not run are announced in `warnings`."""
    specs = estimate_specs(design, without_style(options.controls), options.slices, options.typicalities)
    estimates = [
        TypicalityBias(typicality, spec_controls, bootstrap=options.bootstrap, seed=options.seed, slice=slice_name).fit(design).estimate_
        for slice_name, typicality, spec_controls in specs
    ]
    failed = [estimate for estimate in estimates if not estimate.fitted]
    if failed:
        warnings.append(
            f"{len(failed)} of {len(estimates)} fits could not run (each is listed with its reason); the other {len(estimates) - len(failed)} were fitted."
        )
        warnings.extend(f"Not fitted: {estimate.id}: {estimate.reason}." for estimate in failed)
    return estimates


def _ordinal(data: PreferenceData, scores: CheckedScores, options: AnalysisOptions, warnings: list[str]) -> OrdinalFit | None:
    if data.kind != "rated" or not preference_rating(data):
        return None
    ordinal = ordinal_logit(data, scores, typicality=options.typicalities[0])
    if not ordinal.fitted:
        warnings.append(f"Ordinal model not fitted: {ordinal.reason}.")
    return ordinal


def _model_entry(scores: CheckedScores, design: PairDesign) -> ScoreCard | None:
    """The scorer's card, as it travels from scores.parquet; a bare fingerprint when the table came without one."""
    if scores.card is not None:
        return scores.card
    fingerprint = scores.fingerprint or design.model
    return ScoreCard(model=None, fingerprint=fingerprint, keys=("model", "fingerprint")) if fingerprint else None


def estimate_specs(
    design: PairDesign,
    controls: list[str] | None = None,
    slices: list[str] | None = None,
    typicalities: tuple[str, ...] = TYPICALITIES,
) -> list[tuple[str, str, list[str]]]:
    """The (slice, typicality, controls) of every fit to run, headline first (see the module docstring)."""
    correctness = design.correctness
    chosen = expand_slices(design, slices)
    specs: list[tuple[str, str, list[str]]] = []
    if controls is not None:
        names = list(dict.fromkeys(control_name(name) for name in controls))
        for slice_name in chosen:
            kept = [name for name in names if not (slice_name == EQUAL_CORRECTNESS and name == correctness)]
            specs.extend((slice_name, typicality, kept) for typicality in typicalities)
        return specs
    main = [correctness] if correctness else []
    ordered = sorted(chosen, key=lambda name: {EQUAL_CORRECTNESS: 0, ALL_PAIRS: 1}.get(name, 2))
    for slice_name in ordered:
        if slice_name == EQUAL_CORRECTNESS:
            sets, slice_typicalities = [[], [LENGTH_CONTROL]], typicalities
        elif slice_name == ALL_PAIRS:
            sets = [main, main + [LENGTH_CONTROL]] + ([[], [LENGTH_CONTROL]] if correctness else [])
            slice_typicalities = typicalities
        else:
            sets, slice_typicalities = [main, main + [LENGTH_CONTROL]], typicalities[:1]
        specs.extend((slice_name, typicality, list(chosen_controls)) for typicality in slice_typicalities for chosen_controls in sets)
    return specs


def headline(estimates: list[Estimate]) -> Headline:
    """The estimate to quote, why, its length-controlled twin, and the change in alpha between them.

    The headline is pre-specified, not chosen by its result: the first fitted estimate of the
    first typicality definition without a length control, in the order `estimate_specs` lists
    them (the equal-correctness fit when the data has correctness, else all pairs).
    """
    candidates = [e for e in estimates if e.typicality == estimates[0].typicality and LENGTH_CONTROL not in e.controls] if estimates else []
    first = next((e for e in candidates if e.fitted), estimates[0] if estimates else None)
    if first is None:
        return Headline(estimate=None, reason="no estimate was fitted")
    twin = next(
        (e for e in estimates if e.slice == first.slice and e.typicality == first.typicality and e.controls == first.controls + [LENGTH_CONTROL]),
        None,
    )
    return Headline(
        estimate=first.id,
        reason=_headline_reason(first),
        length_controlled=twin.id if twin else None,
        alpha_change=_alpha_change(first, twin),
        curve=_curve_estimate(first, estimates),
    )


def _curve_estimate(first: Estimate, estimates: list[Estimate]) -> str | None:
    """The fitted mean-typicality fit without controls that a preference-rate curve can draw:
    the headline's slice first, then all pairs."""
    plain = [e for e in estimates if e.fitted and not e.controls and e.typicality == "mean_logprob"]
    for wanted in (first.slice, ALL_PAIRS):
        found = next((e for e in plain if e.slice == wanted), None)
        if found is not None:
            return found.id
    return None


def _headline_reason(estimate: Estimate) -> str:
    if not estimate.fitted:
        return "the pre-specified headline fit could not run; it is shown with its reason"
    where = "the equal-correctness slice" if estimate.slice == EQUAL_CORRECTNESS else f"slice '{estimate.slice}'"
    controls = f"controlled for {', '.join(estimate.controls)}" if estimate.controls else "without controls"
    return f"pre-specified: {estimate.typicality} typicality on {where}, {controls}, as in the published method"


def _alpha_change(first: Estimate, twin: Estimate | None) -> AlphaChange | None:
    """Alpha with the length control minus alpha without it (both fitted on the same pairs)."""
    if twin is None or not (first.fitted and twin.fitted):
        return None
    return AlphaChange(estimate=twin.alpha - first.alpha, from_id=first.id, to_id=twin.id)


def slice_counts(design: PairDesign, estimates: list[Estimate]) -> dict:
    """Pairs and prompts in every slice an estimate was fitted on (slice membership, decided once)."""
    return {name: slice_count(design, name) for name in dict.fromkeys(estimate.slice for estimate in estimates)}


def data_warnings(accounting: PairAccounting) -> list[str]:
    """Dataset-level warnings: unscored responses and the pairs they cost."""
    messages = []
    responses = accounting.responses or 0
    unscored = accounting.responses_without_score or 0
    unusable = accounting.responses_with_unusable_score or 0
    lost = accounting.n_dropped("a response has no usable score")
    if unscored:
        messages.append(f"{unscored} of {responses} responses have no score (skipped by the scorer or not scored yet).")
    if unusable:
        reasons = "; ".join(f"{reason}: {count}" for reason, count in (accounting.unusable_scores or {}).items())
        messages.append(f"{unusable} of {responses} responses have no usable score ({reasons}).")
    if lost:
        messages.append(
            f"{lost} of {accounting.comparisons} pairs are left out because a response has no usable score; the fits use the other {accounting.pairs}."
        )
    return messages


def dataset_info(data: PreferenceData) -> dict:
    return {
        "name": data.name,
        "title": data.title,
        "subset": data.subset,
        "split": data.split,
        "kind": data.kind,
        "source": data.source,
        "preference": data.preference,
        "correctness": data.correctness,
        "ratings": list(data.rating_columns),
        "n_prompts": data.n_prompts,
        "n_responses": int(len(data.responses)),
        "n_comparisons": int(len(data.comparisons)),
        "accounting": data.accounting.to_dict(),
        "preference_rating": data.preference_rating,
        "provenance": list(data.provenance),
    }


def json_ready(value, path: str = "", bad: list[str] | None = None):
    """Plain JSON types throughout; a non-finite float becomes None and its path is recorded in `bad`."""
    if isinstance(value, dict):
        return {str(key): json_ready(item, f"{path}.{key}" if path else str(key), bad) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item, f"{path}[{index}]", bad) for index, item in enumerate(value)]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        if bad is not None:
            bad.append(path)
        return None
    return value
