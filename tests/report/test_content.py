"""What the report says: formatting, clipping long texts, the headline's wording, the example pairs, the warnings."""

from __future__ import annotations

import pytest

from tests.report.page import quotes
from typicality.audit_folder import DATASET_FILE, load_data, load_results, read_audit, save_results
from typicality.formatting import clip_end, fit_label, fmt_p, fmt_percent, fmt_value
from typicality.report.content import CARD_FIRST, clip_start, examples, flatten, headline, model_card, warnings


def test_clip_start_keeps_the_beginning_and_counts_what_it_left_out():
    text = "word " * 100  # 500 characters
    clipped = clip_start(text, 100)
    kept, note = clipped.split(" … ")
    assert text.startswith(kept) and 80 <= len(kept) <= 100 and kept.endswith("word")  # cut at a space
    assert note == f"[{len(text) - len(kept):,} more characters]"
    assert clip_start("short\n", 100) == "short"


def test_clip_end_keeps_the_end_and_counts_what_it_left_out():
    text = "".join(f"w{i} " for i in range(200)) + "END"
    clipped = clip_end(text, 120)
    note, kept = clipped.split(" … ")
    assert text.endswith(kept) and len(kept) <= 120
    assert note == f"[{len(text) - len(kept):,} earlier characters]"
    assert clip_end("\n\nHuman: hi\n\nAssistant:", 100) == "Human: hi\n\nAssistant:"


def test_values_are_formatted_for_people():
    assert [fmt_value(v) for v in (True, False, None, 1234567, 2.0, 1234.56, 0.012341, [1, "a"], [], "  ")] == [
        "yes", "no", "not recorded", "1,234,567", "2", "1,235", "0.01234", "1, a", "none", "not recorded",
    ]
    assert [fmt_p(p) for p in (0.0004, 0.01234, 1.0, None)] == ["< 0.001", "0.012", "1.000", "not available"]
    assert fmt_percent(0.5749) == "57.5%"
    assert flatten({"skipped": {"empty response": 2}, "n_scored": 10, "software": {}}) == [
        ("skipped: empty response", "2"), ("n scored", "10"), ("software", "none"),
    ]


def test_the_headline_words_the_fits_results_json_names(audit_dir):
    results = load_results(audit_dir)
    main, twin = results.headline_estimate, results.length_controlled_estimate
    top = headline(read_audit(audit_dir))
    assert top["estimate"] == main and top["reason"] == results.headline.reason
    agreement, fit, reason, length = top["sentences"]
    assert agreement.startswith("In 47 pairs, the preferred response was the more typical one")
    assert "fit all · mean_logprob · correctness, 47 pairs)" in fit and quotes(fit, main)
    assert reason == f"Why this fit is the headline: {results.headline.reason}."
    assert length.startswith("With correctness + length as controls, alpha is ") and quotes(length, twin)
    # The change in alpha is the one results.json records, worded, not recomputed or judged.
    assert f"); the length control changes alpha by {results.headline.alpha_change.estimate:+.3f}" in length
    assert not any("surviv" in sentence for sentence in top["sentences"])


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda h: h.replace(length_controlled=None, alpha_change=None), "No fit with a length control is available for this fit."),
        (lambda h: h.replace(alpha_change=None), "TWIN_P)."),  # both fits stated, no change invented
        (
            lambda h: h.replace(length_controlled="equal-correctness|mean_logprob|length", alpha_change=None),
            "could not run (only 8 pairs in slice 'equal-correctness'",
        ),
    ],
)
def test_the_length_sentence_follows_what_results_json_records(audit_dir, edit, expected):
    results = load_results(audit_dir)
    results = results.replace(headline=edit(results.headline))
    save_results(results, audit_dir)
    sentences = headline(read_audit(audit_dir))["sentences"]
    twin = results.estimate("all|mean_logprob|correctness+length")
    expected = expected.replace("TWIN_P", f"p = {twin.p_value:.3f}")
    assert len(sentences) == 4 and expected in sentences[3]
    assert ("changes alpha by" in sentences[3]) == (results.headline.alpha_change is not None)


def test_a_headline_that_could_not_run_or_is_not_named_says_so(audit_dir):
    results = load_results(audit_dir)
    save_results(results.replace(headline=results.headline.replace(estimate="equal-correctness|mean_logprob|none")), audit_dir)
    sentences = headline(read_audit(audit_dir))["sentences"]
    assert sentences[1] == (
        "The headline fit (equal-correctness · mean_logprob · no controls) could not run "
        "(only 8 pairs in slice 'equal-correctness'; at least 10 are needed for a fit)."
    )
    assert len(sentences) == 2  # no length sentence for a headline without an alpha
    save_results(results.replace(headline=results.headline.replace(estimate=None)), audit_dir)  # results.json names no headline
    assert headline(read_audit(audit_dir))["estimate"] is None  # nothing is chosen in its place


def test_example_pairs_are_the_extremes_one_per_prompt(audit_dir):
    """Naively: per prompt, the decided pair with the largest (smallest) Δ preferred minus rejected; then the top 3."""
    audit = read_audit(audit_dir)
    data = load_data(audit_dir)
    mean = dict(zip(audit.scores.table["response_id"], audit.scores.table["mean_logprob"]))
    best, worst = {}, {}
    for row in data.comparisons.itertuples():
        if row.label == 0.5:
            continue
        preferred, rejected = (row.response_a, row.response_b) if row.label == 1 else (row.response_b, row.response_a)
        delta = mean[preferred] - mean[rejected]
        best[row.prompt_id] = max(best.get(row.prompt_id, -1e9), delta)
        worst[row.prompt_id] = min(worst.get(row.prompt_id, 1e9), delta)
    top = sorted((d for d in best.values() if d > 0), reverse=True)[:3]
    bottom = sorted(d for d in worst.values() if d < 0)[:3]
    found = examples(audit)
    assert [float(e.delta) for e in found.agree] == pytest.approx(top, abs=5e-4)
    assert [float(e.delta) for e in found.disagree] == pytest.approx(bottom, abs=5e-4)
    assert len({e.prompt_id for e in found.agree}) == 3
    texts = set(data.responses["response"])
    for example in found.agree + found.disagree:
        assert example.preferred in texts and example.rejected in texts  # short texts are shown whole
        assert float(example.preferred_score) - float(example.rejected_score) == pytest.approx(float(example.delta), abs=2e-3)


def test_examples_say_why_when_texts_are_missing(audit_dir):
    (audit_dir / DATASET_FILE).unlink()
    found = examples(read_audit(audit_dir))
    assert found.agree == [] and found.reason == "the texts are not available (dataset.json: absent)"


def test_model_card_puts_identity_first(audit_dir):
    """The report shows who scored first, then the rest of the card in its recorded order."""
    rows = model_card(read_audit(audit_dir))
    labels = [label for label, _ in rows]
    assert labels[:9] == ["model", "name", "revision", "fingerprint", "backend", "dtype", "device", "bos", "chat template"]
    card = read_audit(audit_dir).score_card.to_dict()
    assert labels[9:] == [label for label, _ in flatten({key: value for key, value in card.items() if key not in CARD_FIRST})]  # the rest as recorded
    assert ("software: transformers", "5.23.0") in rows and ("skipped", "none") in rows and ("n scored", "48") in rows


def test_warnings_do_not_repeat_a_reason_the_stats_stage_gave(audit_dir):
    audit = read_audit(audit_dir)
    recorded = list(audit.results.warnings)
    unfitted = [e for e in audit.results.estimates if not e.fitted]
    assert sum(e.id in message for e in unfitted for message in recorded) == 4  # the stats stage names four of them
    found = warnings(audit, None)
    assert found[: len(recorded)] == recorded and len(set(found)) == len(found)
    for estimate in unfitted:
        reason = estimate.reason
        assert any(reason in message for message in found), estimate.id  # every reason is stated ...
        if any(reason in message for message in recorded):  # ... and once, when the stats stage already gave it
            assert f"The fit {fit_label(estimate)} could not run ({reason})." not in found
    # Without the stats stage's words, the report says it itself, naming every fit (several share a reason).
    audit.results = audit.results.replace(warnings=())
    found = warnings(audit, None)
    assert len({estimate.reason for estimate in unfitted}) < len(unfitted)
    for estimate in unfitted:
        assert f"The fit {fit_label(estimate)} could not run ({estimate.reason})." in found, estimate.id
