"""The report's debiasing and influence sections: numbers read back from results.json and influence.parquet,
prompt excerpts kept as text, the leave-one-prompt-out figure drawn."""

from __future__ import annotations

import pandas as pd

from tests.report.page import markdown_to_html, parse_page
from tests.report.synthetic import PAYLOADS
from typicality.audit_folder import INFLUENCE_FILE, INFLUENCE_SUMMARY_FILE, load_results, read_audit, save_analysis
from typicality.formatting import clip_end, fmt_coef, fmt_count
from typicality.pipeline import write_influence
from typicality.report import render_report
from typicality.report.debiasing_and_influence import EXCERPT_CHARS, N_TOP_PROMPTS, influence_section, top_prompts


def test_influence_section_and_figure(audit_dir):
    write_influence(audit_dir, strict=True)
    record = read_audit(audit_dir).influence_summary
    paths = render_report(audit_dir)
    assert (audit_dir / "figures" / "leave_one_prompt_out.png").exists()
    markdown, html = paths.markdown.read_text(encoding="utf-8"), paths.html.read_text(encoding="utf-8")
    for page in (parse_page(html), parse_page(markdown_to_html(markdown))):
        assert page.tags("script") == [] and page.tags("i") == []
        text = " ".join(page.text.split())
        assert "The prompts that drive alpha" in text
        assert f"cluster jackknife (CV3, t with {record.cv3['df']} df)" in text and fmt_coef(record.cv3["se"]) in text
        top = record.without_top_prompts
        assert f"Without the top {fmt_count(top['n_prompts_removed'])} prompts" in text and fmt_coef(top["alpha"]) in text
        assert fmt_coef(record.leave_one_prompt_out["q00"]) in text
    # The most influential prompts, in influence.parquet's rank order, with the end of each prompt's text.
    influence = pd.read_parquet(audit_dir / INFLUENCE_FILE)
    ranked = influence[influence["level"] == "prompt"].sort_values("rank").head(N_TOP_PROMPTS)
    rows = top_prompts(read_audit(audit_dir))
    assert influence_section(read_audit(audit_dir)).tables[-1].rows == tuple(tuple(row.values()) for row in rows)  # the table shows them
    assert [row["rank"] for row in rows] == [str(rank) for rank in ranked["rank"]]
    assert [row["alpha_without"] for row in rows] == [f"{value:.4f}" for value in ranked["alpha_without"]]
    responses = read_audit(audit_dir).data.responses.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"]
    for row, prompt_id in zip(rows, ranked["prompt_id"]):
        assert row["excerpt"] == clip_end(" ".join(responses[prompt_id].split()), EXCERPT_CHARS)
        assert row["excerpt"].split("] … ")[-1][:40] in " ".join(parse_page(html).text.split())


def test_hostile_prompt_text_stays_text_in_the_influence_table(audit_dir):
    """Every prompt ends in a payload, so the excerpts carry them into the table: shown as text, nothing opened."""
    audit = read_audit(audit_dir)
    responses = audit.data.responses.copy()
    responses["prompt"] = responses["prompt"] + " " + " ".join(PAYLOADS)
    responses.to_parquet(audit_dir / "responses.parquet", index=False)
    write_influence(audit_dir, strict=True)
    paths = render_report(audit_dir)
    html_page = parse_page(paths.html.read_text(encoding="utf-8"))
    md_page = parse_page(markdown_to_html(paths.markdown.read_text(encoding="utf-8")))
    assert md_page.tags("strong") == []
    for page in (html_page, md_page):
        assert page.tags("script") == [] and not [a for a in page.tags("a") if "javascript" in (a.get("href") or "")]
        assert not [tag for tag, attrs in page.elements if any(name.startswith("on") for name in attrs)]
        assert page.text.count("[link](javascript:alert(1))") >= N_TOP_PROMPTS


def test_debiasing_section_words_results_json(audit_dir):
    from typicality.pipeline import read_analysis_input
    from typicality.stats import analyze_with_design

    data, scores = read_analysis_input(audit_dir)
    save_analysis(*analyze_with_design(data, scores), audit_dir)
    results = load_results(audit_dir)
    record, memorized = results.debiasing, results.memorized
    text = " ".join(parse_page(render_report(audit_dir).html.read_text(encoding="utf-8")).text.split())
    assert "Acting on this audit: a debiased training set" in text
    if record.available:
        assert f"removes alpha = {fmt_coef(record.alpha)}" in text
        assert f"in {fmt_count(record.n_flips)} of {fmt_count(record.n_decisive)} decided pairs" in text
    else:
        assert "No debiased export is possible" in text
    assert f"{fmt_count(memorized.n_memorized_responses)} of {fmt_count(memorized.n_scored_responses)} scored responses" in text


def test_a_folder_without_influence_has_no_influence_section(audit_dir):
    """influence.json is an optional extra (`typicality influence`); debiasing and memorization are always in results.json."""
    write_influence(audit_dir, strict=True)
    (audit_dir / INFLUENCE_SUMMARY_FILE).unlink()
    (audit_dir / INFLUENCE_FILE).unlink()
    text = render_report(audit_dir).markdown.read_text(encoding="utf-8")
    assert "The prompts that drive alpha" not in text and "Acting on this audit" in text
    assert not (audit_dir / "figures" / "leave_one_prompt_out.png").exists()
