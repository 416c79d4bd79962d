"""The HuggingFaceH4/ultrafeedback_binarized loader on a parquet fixture in the Hub's schema."""

from __future__ import annotations

import hashlib

from tests.data.files import assistant, user, write_parquet
from typicality.data import load
from typicality.data.render import NO_ASSISTANT


def row(prompt, chosen, rejected, score_chosen, score_rejected, history=None):
    """One row as on the Hub: message lists for chosen, rejected and messages (= chosen)."""
    turns = history or [user(prompt)]
    return {
        "prompt": prompt,
        "prompt_id": hashlib.sha256(prompt.encode()).hexdigest(),
        "chosen": turns + ([assistant(chosen)] if chosen is not None else []),
        "rejected": turns + [assistant(rejected)],
        "messages": turns + ([assistant(chosen)] if chosen is not None else []),
        "score_chosen": score_chosen,
        "score_rejected": score_rejected,
    }


MULTI = [user("Hi"), assistant("Hello!"), user("Name a color.")]
ROWS = [
    row("What is 2+2?", "4", "5", 9.0, 3.0),
    row("Tell a joke.", "Why did the chicken...", "No.", 7.0, 7.0),  # equal scores: a tie
    row("Name a color.", "Blue", "Dog", 8.5, 2.0, history=MULTI),
    row("Unanswered.", None, "x", 5.0, 1.0),  # chosen has no assistant turn
    row("Same?", "Yes.", "Yes.", 6.0, 4.0),  # identical responses
    row("Empty?", "", "Something.", 6.0, 4.0),  # empty chosen
]


def test_counts_ties_drops_and_rendering(tmp_path):
    data = load("ultrafeedback-binarized", data_files=write_parquet(tmp_path / "test_prefs.parquet", ROWS))
    summary = data.summary()
    assert summary["n_rows"] == 6
    assert summary["n_comparisons"] == 3
    assert summary["n_prompts"] == 3
    assert summary["n_responses"] == 6
    assert summary["n_ties"] == 1
    assert summary["dropped"] == {NO_ASSISTANT: 1, "identical responses": 1, "empty response": 1}
    text = data.responses.set_index("response_id")["response"]
    prompt = data.responses.set_index("response_id")["prompt"]
    got = {
        (prompt[a], text[a], text[b]): (label, high, low)
        for a, b, label, high, low in data.comparisons[["response_a", "response_b", "label", "score_chosen", "score_rejected"]].itertuples(index=False)
    }
    assert got == {
        ("What is 2+2?", "4", "5"): (1.0, 9.0, 3.0),
        ("Tell a joke.", "Why did the chicken...", "No."): (0.5, 7.0, 7.0),
        ("\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a color.\n\nAssistant:", "Blue", "Dog"): (1.0, 8.5, 2.0),
    }
    assert data.split == "test_prefs"
