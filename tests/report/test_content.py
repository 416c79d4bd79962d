"""What the report says: formatting, clipping long texts, the example pairs, the warnings."""

from __future__ import annotations

import json

import pytest

from typicality.data.storage import load_preference_data
from typicality.report.content import clip_end, clip_start, examples, flatten, fmt_p, fmt_percent, fmt_value, model_card, warnings
from typicality.report.folder import read_audit_folder


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


def test_example_pairs_are_the_extremes_one_per_prompt(audit_dir):
    """Naively: per prompt, the decided pair with the largest (smallest) Δ preferred minus rejected; then the top 3."""
    audit = read_audit_folder(audit_dir)
    data = load_preference_data(audit_dir)
    mean = dict(zip(audit.scores["response_id"], audit.scores["mean_logprob"]))
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
    texts = data.responses.set_index("response_id")["response"]
    for example in found.agree + found.disagree:
        assert example.preferred in set(texts) and example.rejected in set(texts)  # short texts are shown whole
        assert float(example.preferred_score) - float(example.rejected_score) == pytest.approx(float(example.delta), abs=2e-3)


def test_examples_say_why_when_texts_are_missing(audit_dir):
    (audit_dir / "dataset.json").unlink()
    found = examples(read_audit_folder(audit_dir))
    assert found.agree == [] and found.reason == "the texts are not available (dataset.json: absent)"


def test_model_card_puts_identity_first(audit_dir):
    card = json.loads((audit_dir / "scoring.json").read_text())
    (audit_dir / "scoring.json").write_text(json.dumps(dict(sorted(card.items()))))  # as the scorer writes it: sorted keys
    labels = [label for label, _ in model_card(read_audit_folder(audit_dir))]
    assert labels[:5] == ["model", "fingerprint", "dtype", "device", "bos"]
    assert "skipped: empty response" in labels


def test_warnings_do_not_repeat_a_reason_the_stats_stage_gave(audit_dir):
    results = json.loads((audit_dir / "results.json").read_text())
    reason = results["estimates"][0]["reason"]
    results["warnings"] = [f"Not fitted: {results['estimates'][0]['id']}: {reason}."]
    (audit_dir / "results.json").write_text(json.dumps(results))
    audit = read_audit_folder(audit_dir)
    found = warnings(audit, None)
    assert sum(reason in message for message in found) == 1
