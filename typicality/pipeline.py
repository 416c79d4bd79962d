"""The whole pipeline in one call: load -> score -> fit -> report, into one audit folder.

Every option is checked before anything is written or any model loads (the options objects when
built, then the pre-flight: `LoadRequest.preflight`, `ScoringOptions.validate`). Each stage writes its output through
`typicality.audit_folder` before the next starts, and scoring goes through the persistent
cache, so an interrupted audit re-run with the same request resumes: nothing computed is
computed twice.

The audit is written into a staging folder beside `out` and renamed into place when complete
(`typicality.output_folder`): a run that fails or is interrupted removes what it wrote and leaves
`out` as it was, so the corrected command finds nothing in its way, and `--force` replaces only
a folder the tool wrote, holding nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

from typicality.audit_folder import (
    AUDIT_KIND,
    IN_PROGRESS_FILE,
    SCORES_FILE,
    load_data,
    load_scores,
    read_audit,
    save_analysis,
    save_data,
    save_influence,
    save_scores,
)
from typicality.data.request import LoadRequest
from typicality.errors import TypicalityError, require_path
from typicality.output_folder import claim_output
from typicality.results import InfluenceSummary
from typicality.safe_text import DataConsole
from typicality.scoring.options import ScoringOptions
from typicality.stats.options import AnalysisOptions


def audit(
    request: LoadRequest | str,
    out: str | Path,
    scoring: ScoringOptions | None = None,
    analysis: AnalysisOptions | None = None,
    *,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Audit a dataset for typicality bias; returns the folder holding data, scores, pairs, results and report.

    `request`: what to load (`LoadRequest`, or a registered dataset name with its defaults);
    `scoring`: the reference model and how to run it (default: the embedded Gemma 3 270M);
    `analysis`: which fits to run (default: the robustness set).
    """
    request = LoadRequest(request) if isinstance(request, str) else request
    scoring = scoring or ScoringOptions()
    analysis = analysis or AnalysisOptions()
    for name, value, kind in (("request", request, LoadRequest), ("scoring", scoring, ScoringOptions), ("analysis", analysis, AnalysisOptions)):
        if not isinstance(value, kind):
            raise TypicalityError(f"audit(): {name} must be a {kind.__name__}, got {type(value).__name__}.")
    # The options were checked when built; what remains looks at the machine: the data files, the model, the score cache.
    request.preflight()
    scoring.validate()

    out = Path(out)
    # An audit left unfinished in `out` by an earlier version (it wrote in place) holds nothing the score cache
    # does not: it is replaced without --force, as that version resumed it.
    unfinished = not out.is_symlink() and (out / IN_PROGRESS_FILE).is_file()
    inputs = [*request.data_files, scoring.cache_folder()]  # --out is never one of these, nor a folder holding one
    claim = claim_output(out, AUDIT_KIND, force=force or unfinished, inputs=inputs)
    console = DataConsole(stderr=True, quiet=not progress)  # paths and names from the data: shown as text, never as markup

    from typicality.report import render_report

    with claim.staged() as folder:
        data = _load(request, folder, console, analysis)
        scores = _score(data, scoring, folder, console, progress)
        _fit(data, scores, analysis, folder, console, progress, scoring)
        console.rule("[4/4] report")
        paths = render_report(folder)
    console.print(f"report: {out / paths.html.name} and {out / paths.markdown.name}, {len(paths.figures)} figures")
    return out


def _load(request: LoadRequest, out: Path, console: DataConsole, analysis: AnalysisOptions):
    from typicality.data import load
    from typicality.stats.analysis import check_analyzable

    console.rule(f"[1/4] load {request.dataset}")
    data = load(request)
    check_analyzable(data, analysis.ties)  # all ties, one prompt: refused before anything is written or scored
    save_data(data, out)
    summary = data.summary()
    console.print(f"{summary['n_prompts']} prompts, {summary['n_responses']} responses, {summary['n_comparisons']} pairs")
    return data


def _score(data, scoring: ScoringOptions, out: Path, console: DataConsole, progress: bool):
    from typicality.scoring import score

    console.rule(f"[2/4] score with {scoring.model}")
    scores = score(data, scoring, progress=progress)
    save_scores(scores, out / SCORES_FILE)
    return scores


def _fit(data, scores, analysis: AnalysisOptions, out: Path, console: DataConsole, progress: bool, scoring: ScoringOptions | None = None):
    from typicality.report.terminal import print_results
    from typicality.stats import analyze_with_design

    console.rule("[3/4] fit")
    unconditional = None
    if analysis.negative_control:  # the fluency negative control: each response scored again without its prompt (same backend, same cache)
        from typicality.stats.negative_control import unconditional_scores

        unconditional = unconditional_scores(data, scoring or ScoringOptions(), progress=progress)
    results, design = analyze_with_design(data, scores, analysis, unconditional=unconditional)
    save_analysis(results, design, out)
    # Which prompts and pairs drive alpha: influence.json and influence.parquet
    # (an audit without a usable fit records why instead of failing here).
    write_influence(out)
    if progress:
        print_results(results)
    return results


# ---------------------------------------------------------------------------------------------
# The folders around the stats stage: it computes on objects, these read and write them
# through typicality.audit_folder and typicality.comparison_folder (a comparison's audits included).


def read_analysis_input(folder: str | Path | None = None, *, data: str | Path | None = None, scores: str | Path | None = None):
    """(data, scores with their card) from one folder holding both, or from a data folder and a scores file given apart."""
    if folder is None and (data is None or scores is None):
        raise TypicalityError("Give a folder holding the data files and scores.parquet, or both --data DIR and --scores FILE.")
    data_folder = Path(data) if data is not None else Path(folder)
    scores_file = Path(scores) if scores is not None else Path(folder) / SCORES_FILE
    if not data_folder.is_dir():
        raise TypicalityError(f"{data_folder} is not a folder; give an audit or simulated folder, or --data DIR.")
    return load_data(data_folder), load_scores(scores_file)


def write_simulation(data, scores, folder: str | Path) -> Path:
    """A simulated folder: the data folder files plus scores.parquet, readable by every stats command."""
    folder = Path(folder)
    save_data(data, folder)
    save_scores(scores, folder / SCORES_FILE)
    return folder


def write_influence(folder: str | Path, *, estimate: str | None = None, strict: bool = False, exact_max_prompts: int | None = None):
    """Compute influence for a finished audit folder: influence.json (the summary) and influence.parquet (the table).

    The pipeline calls this after the fit (strict=False: an audit without a usable fit records
    why and writes no table); `typicality influence` calls it with strict=True (one clear error).
    """
    from typicality.stats.influence import EXACT_MAX_PROMPTS, compute_influence, influence_estimate

    folder = Path(folder)
    audit = read_audit(folder, with_data=False)
    try:
        if audit.pairs is None:
            raise TypicalityError(f"{folder} has no readable pair design ({audit.missing.get('pairs.parquet', 'absent')}); re-run `typicality fit {folder}`.")
        limit = EXACT_MAX_PROMPTS if exact_max_prompts is None else exact_max_prompts
        result = compute_influence(audit.pairs, influence_estimate(audit.results, estimate), exact_max_prompts=limit)
    except TypicalityError as error:
        if strict:
            raise
        save_influence(InfluenceSummary(available=False, reason=str(error)), None, folder)
        return None
    save_influence(result.summary, result.table, folder)
    return result


def _check_folders(folders) -> None:
    """compare()'s folders: a list of paths (not one path, whose characters would be taken for folders)."""
    if isinstance(folders, (str, os.PathLike)) or not isinstance(folders, (list, tuple)):
        raise TypicalityError(f"compare(): folders must be a list of audit folders, got {folders!r:.60}; e.g. compare(['audit-a', 'audit-b']).")
    for folder in folders:
        require_path("compare", "each folder", folder)


def read_compared_audits(folders, *, labels=None, effect: str = "headline"):
    """Each finished audit folder read through `typicality.audit_folder.read_audit`, labelled, with the fit `effect` names:
    the typed objects `typicality.stats.compare` computes on. One clear message for a single folder, an unfinished audit or a missing fit."""
    from typicality.audit_folder import is_finished_audit
    from typicality.stats.compare import ComparedAudit

    _check_folders(folders)
    folders = [Path(folder) for folder in folders]
    if len(folders) < 2:
        raise TypicalityError(
            f"compare needs at least two audit folders, got {len(folders)}: give the "
            "audits to compare, e.g. `typicality compare audit-a audit-b --out comparison`."
        )
    if len(set(path.resolve() for path in folders)) < len(folders):
        raise TypicalityError("The same audit folder is given twice: compare different audits.")
    if labels is not None and len(labels) != len(folders):
        raise TypicalityError(f"--labels gives {len(labels)} names for {len(folders)} audit folders: give one per folder.")
    names = [folder.name for folder in folders]
    audits = []
    for index, folder in enumerate(folders):
        if not folder.is_dir():
            raise TypicalityError(f"{folder} is not a folder: give the folders that `typicality audit DATASET --out DIR` wrote.")
        audit = read_audit(folder, with_data=False)  # no results.json or another format: one clear message there
        if not is_finished_audit(folder):
            raise TypicalityError(
                f"{folder} is an unfinished audit (it still holds its in-progress marker): re-run the same `typicality audit` command to finish it."
            )
        if audit.pairs is None:
            raise TypicalityError(
                f"{folder} has no readable pairs.parquet ({audit.missing.get('pairs.parquet', 'absent')}), "
                f"so it is not a finished audit: re-run `typicality fit {folder}`."
            )
        if labels is not None:
            label = str(labels[index])
        else:  # the folder's name, or its whole path where two folders share a name
            label = names[index] if names.count(names[index]) == 1 else str(folder)
        audits.append(ComparedAudit.of(label, folder, audit.results, audit.pairs, effect))
    return audits


def compare(folders, *, kind: str = "auto", effect: str = "headline", labels=None, out: str | Path | None = None, force: bool = False):
    """Compare finished audit folders (typicality.stats.compare); with `out`, also write comparison.json and its report there.

    Returns the typed `ComparisonResults` (typicality/comparison_results.py). `out` is checked before anything is
    computed, and written as a whole (staged beside it); `force` replaces a comparison folder the tool wrote there,
    holding nothing else.
    """
    from typicality.comparison_folder import COMPARISON_KIND, save_comparison
    from typicality.report.comparison import render_comparison
    from typicality.stats.compare import EFFECTS, compare_audits

    _check_folders(folders)
    if effect not in EFFECTS:  # before any folder is read
        raise TypicalityError(f"--effect must be one of {', '.join(EFFECTS)}, got '{effect}'.")
    claim = None if out is None else claim_output(out, COMPARISON_KIND, force=force, inputs=[str(folder) for folder in folders])
    comparison = compare_audits(read_compared_audits(folders, labels=labels, effect=effect), kind, effect=effect)
    if claim is not None:
        with claim.staged() as folder:
            save_comparison(comparison, folder)
            render_comparison(folder)
    return comparison
