"""The whole pipeline in one call: load -> score -> fit -> report, into one audit folder.

Each stage writes its output before the next starts, and scoring goes through the
persistent cache, so an interrupted audit re-run with the same arguments resumes: nothing
computed is computed twice.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rich.console import Console

from typicality.errors import TypicalityError

# Written first and removed last: its presence means "an audit was started here and did not finish".
IN_PROGRESS = "audit-in-progress.json"


def audit(
    dataset: str,
    out: str | Path,
    *,
    data_files: list[str] | None = None,
    subset: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    columns: dict[str, str] | None = None,
    rating: str | None = None,
    model: str = "gemma-3-270m",
    controls: list[str] | None = None,
    bootstrap: int = 0,
    ties: str = "drop",
    force: bool = False,
    progress: bool = True,
    **scoring_options,
) -> Path:
    """Audit `dataset` for typicality bias; returns the folder holding scores, pairs, results and report.

    `scoring_options` go to `typicality.scoring.score` (batch_tokens, device, dtype, cache_dir, ...).
    """
    from typicality.data import load
    from typicality.data.storage import save_preference_data
    from typicality.report import render_report
    from typicality.report.terminal import print_results
    from typicality.scoring import score
    from typicality.stats import analyze

    out = Path(out)
    request = {
        "dataset": dataset, "data_files": list(data_files or []), "subset": subset, "split": split,
        "limit": limit, "seed": seed, "columns": columns or {}, "rating": rating, "model": model,
        "controls": controls, "ties": ties, "bootstrap": bootstrap,
    }
    _claim_folder(out, request, force)
    console = Console(stderr=True, quiet=not progress)

    console.rule(f"[1/4] load {dataset}")
    options = {"rating": rating} if rating else {}
    data = load(dataset, data_files=data_files, subset=subset, split=split, limit=limit, columns=columns, seed=seed, **options)
    # Marked only once there is something to resume: a failed load (no network, bad file) leaves
    # the folder empty, so the next attempt with other arguments is not refused.
    (out / IN_PROGRESS).write_text(json.dumps(request, indent=2) + "\n", encoding="utf-8")
    save_preference_data(data, out)
    summary = data.summary()
    console.print(f"{summary['n_prompts']} prompts, {summary['n_responses']} responses, {summary['n_comparisons']} pairs")

    console.rule(f"[2/4] score with {model}")
    scores = score(data, model, progress=progress, **scoring_options)
    scores.save(out / "scores.parquet")

    console.rule("[3/4] fit")
    results = analyze(data, scores.table, controls=controls, seed=seed, bootstrap=bootstrap, ties=ties, model_card=scores.card)
    results.design.to_parquet(out / "pairs.parquet", index=False)
    results.to_json(out / "results.json")
    if progress:
        print_results(results)

    console.rule("[4/4] report")
    paths = render_report(out)
    (out / IN_PROGRESS).unlink()
    console.print(f"report: {paths.html} and {paths.markdown}, {len(paths.figures)} figures")
    return out


def _claim_folder(out: Path, request: dict, force: bool) -> None:
    """Refuse to overwrite a finished audit (unless forced); resume an interrupted one of the same request."""
    marker = out / IN_PROGRESS
    if out.exists() and any(out.iterdir()):
        if force:
            shutil.rmtree(out)
        elif marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == request:
            pass  # the same audit was interrupted: run again; the score cache makes it cheap
        else:
            raise TypicalityError(
                f"{out} already exists and is not an unfinished audit of the same request. "
                "Choose another --out, or pass --force to replace it."
            )
    out.mkdir(parents=True, exist_ok=True)
