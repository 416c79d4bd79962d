"""The report reads what the stats stage really writes (results.json, pairs.parquet), not only the fixture's copy."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.report.page import NOT_A_NUMBER, coefficient, report_text_without_dataset_text, visible_text
from tests.report.synthetic import build_audit_folder
from typicality.data.storage import load_preference_data
from typicality.report import render_report

stats = pytest.importorskip("typicality.stats", reason="needs the stats stage (typicality.stats)")


@pytest.mark.parametrize("rated", [True, False])
def test_report_of_a_real_analysis(tmp_path, rated):
    folder = build_audit_folder(tmp_path / "audit", rated=rated, n_prompts=12 if rated else 40, per_prompt=4 if rated else 2)
    (folder / "results.json").unlink()
    (folder / "pairs.parquet").unlink()
    results = stats.analyze(load_preference_data(folder), pd.read_parquet(folder / "scores.parquet"), seed=0)
    results.to_json(folder / "results.json")
    results.design.to_parquet(folder / "pairs.parquet", index=False)

    paths = render_report(folder)
    written = json.loads((folder / "results.json").read_text())
    headline = next(e for e in written["estimates"] if e["id"] == written["headline"]["estimate"])
    assert len(paths.figures) == (5 if rated else 4)
    for path in (paths.markdown, paths.html):
        text = visible_text(path)
        assert f"pairs) is {coefficient(headline['alpha'])} (SE {coefficient(headline['se'])}" in text
        for estimate in written["estimates"]:
            if estimate["fitted"]:
                assert coefficient(estimate["alpha"]) in text
            else:
                assert estimate["reason"] in text
        assert not NOT_A_NUMBER.search(report_text_without_dataset_text(path.read_text(encoding="utf-8")))


def test_a_few_pairs_still_get_a_full_report_that_says_why_fits_are_missing(tmp_path):
    folder = build_audit_folder(tmp_path / "tiny", rated=False, n_prompts=5, per_prompt=2)
    results = stats.analyze(load_preference_data(folder), pd.read_parquet(folder / "scores.parquet"), seed=0)
    results.to_json(folder / "results.json")
    results.design.to_parquet(folder / "pairs.parquet", index=False)
    assert not any(estimate["fitted"] for estimate in results["estimates"])  # too few pairs for any fit

    paths = render_report(folder)
    text = visible_text(paths.markdown)
    reason = results["estimates"][0]["reason"]
    assert f"The headline fit (all · mean_logprob · no controls) could not run ({reason})." in text
    assert "Only 5 pairs: the headline regression could not be fitted, and the agreement rate's interval is wide." in text
    assert f"{100 * results['agreement']['rate']:.1f}%" in text
    assert "No fitted alpha of mean typicality without controls is available, so no curve is drawn." in text
    assert [p.name for p in paths.figures] == ["delta_distribution.png", "preference_rate.png", "forest.png", "length_confound.png"]
