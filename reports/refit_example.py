"""Re-fit and re-render the committed example report from its committed scores (no re-scoring).

The example folder keeps scores.parquet and its card but not the dataset's text (its licence
is the source's), so the data is loaded again from the embedded copy in data/; the response ids
are content hashes, so the scores join exactly. Run after a change to the statistics or the
results.json format:

    .venv/bin/python reports/refit_example.py
"""

from __future__ import annotations

from pathlib import Path

from typicality.audit_folder import SCORES_FILE, load_scores, save_analysis, save_data, save_scores
from typicality.data import LoadRequest, load
from typicality.pipeline import write_influence
from typicality.report import render_report
from typicality.stats import analyze_with_design

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "reports" / "hh-rlhf-helpful-base"
DATA_FILE = ROOT / "data" / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"


def main() -> None:
    data = load(LoadRequest("hh-rlhf", subset="helpful-base", data_files=(str(DATA_FILE),)))
    scores = load_scores(FOLDER / SCORES_FILE)
    save_data(data, FOLDER)  # responses/comparisons are git-ignored here; dataset.json is committed
    save_scores(scores, FOLDER / SCORES_FILE)
    results, design = analyze_with_design(data, scores)
    save_analysis(results, design, FOLDER)
    write_influence(FOLDER)
    paths = render_report(FOLDER)
    headline = results.headline_estimate
    print(f"alpha {headline.alpha!r}, SE {headline.se!r}; {results.interpretation.label}")
    print(f"wrote {paths.markdown} and {paths.html}")


if __name__ == "__main__":
    main()
