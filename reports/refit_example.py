"""Re-fit and re-render the committed example report from its committed scores (no re-scoring).

The example folder keeps scores.parquet and its card but not the dataset's text (its licence
is the source's), so the data is loaded again from the embedded copy in data/; the response ids
are content hashes, so the scores join exactly. Run after a change to the statistics or the
results.json format:

    .venv/bin/python reports/refit_example.py

`reports/refit_by_turn.py` re-fits the same pairs by conversation turn through `refit` below.
"""

from __future__ import annotations

from pathlib import Path

from typicality.audit_folder import SCORES_FILE, load_scores, save_analysis, save_data, save_scores
from typicality.data import LoadRequest, load
from typicality.domain import PreferenceData, ScoreResult
from typicality.pipeline import write_influence
from typicality.report import render_report
from typicality.results import AuditResults
from typicality.stats import analyze_with_design

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "reports" / "hh-rlhf-helpful-base"
DATA_FILE = ROOT / "data" / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"


def load_example() -> tuple[PreferenceData, ScoreResult]:
    """The embedded helpful-base test split and the example's committed scores of it."""
    data = load(LoadRequest("hh-rlhf", subset="helpful-base", data_files=(str(DATA_FILE),)))
    return data, load_scores(FOLDER / SCORES_FILE)


def refit(data: PreferenceData, scores: ScoreResult, folder: Path, **settings) -> AuditResults:
    """Write data, scores, the fit (analyze's keyword `settings`), influence and the report into `folder`; print the headline."""
    save_data(data, folder)  # responses/comparisons are git-ignored under reports/; dataset.json is committed
    save_scores(scores, folder / SCORES_FILE)
    results, design = analyze_with_design(data, scores, **settings)
    save_analysis(results, design, folder)
    write_influence(folder)
    paths = render_report(folder)
    headline = results.headline_estimate
    print(f"alpha {headline.alpha!r}, SE {headline.se!r}; {results.interpretation.label}")
    print(f"wrote {paths.markdown} and {paths.html}")
    return results


def main() -> None:
    data, scores = load_example()
    refit(data, scores, FOLDER)


if __name__ == "__main__":
    main()
