"""The HelpSteer and HelpSteer2 loaders on fixtures in the Hub's JSON-lines schema."""

from __future__ import annotations

import itertools

from tests.data.files import write_jsonl
from typicality.data import load
from typicality.data.sources.helpsteer import helpsteer2_messages

RATINGS = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def rated(prompt, response, helpfulness, correctness, coherence=4, complexity=2, verbosity=2):
    return dict(zip(("prompt", "response", *RATINGS), (prompt, response, helpfulness, correctness, coherence, complexity, verbosity)))


ROWS = [
    rated("Explain gravity.", "A", 4, 4),
    rated("Explain gravity.", "B", 2, 3),
    rated("Explain gravity.", "C", 4, 2),
    rated("Explain gravity.", "D", 3, 3),
    rated("Write a haiku.", "E", 3, 3),
    rated("Write a haiku.", "F", None, 3),  # no helpfulness: dropped
    rated("Hi", "G", 1, 1),
    rated("Hi", "G", 2, 2),  # the same response again: dropped
    rated("Hi", " ", 2, 2),  # empty: dropped
]


def test_helpsteer_pairs_within_prompts(tmp_path):
    data = load("helpsteer", data_files=write_jsonl(tmp_path / "train.jsonl", ROWS))
    summary = data.summary()
    assert summary["n_rows"] == 9
    assert summary["n_prompts"] == 3
    assert summary["n_responses"] == 6
    assert summary["n_comparisons"] == 6  # C(4,2) for gravity; the haiku and "Hi" keep one response each
    assert summary["n_ties"] == 1  # A and C, both 4
    assert summary["dropped"] == {"missing helpfulness rating": 1, "response repeated under the same prompt": 1, "empty response": 1}
    assert data.correctness == "correctness" and data.rating_columns == list(RATINGS)

    # The same labels and the equal-correctness count, computed naively from the rows.
    kept = ROWS[:4]
    expected = {}
    for first, second in itertools.combinations(kept, 2):
        diff = first["helpfulness"] - second["helpfulness"]
        expected[(first["response"], second["response"])] = 1.0 if diff > 0 else 0.0 if diff < 0 else 0.5
    table = data.responses.set_index("response_id")
    got = {
        (table.loc[a, "response"], table.loc[b, "response"]): label
        for a, b, label in data.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)
    }
    assert got == expected
    equal_correctness = sum(a["correctness"] == b["correctness"] for a, b in itertools.combinations(kept, 2))
    correctness_a = data.comparisons["response_a"].map(table["correctness"])
    correctness_b = data.comparisons["response_b"].map(table["correctness"])
    assert int((correctness_a == correctness_b).sum()) == equal_correctness == 1


def test_helpsteer2_turns_are_rendered_and_single_turns_kept_verbatim(tmp_path):
    multi = "Hi there\n<extra_id_1>Assistant\nHello! How can I help?\n<extra_id_1>User\nTell me a fact."
    rows = [rated(multi, "Water is wet.", 3, 4), rated(multi, "No.", 1, 4), rated("c#", "C# is a language.", 3, 4), rated("c#", "A note.", 3, 2)]
    data = load("helpsteer2", data_files=write_jsonl(tmp_path / "train.jsonl", rows))
    prompts = set(data.responses["prompt"])
    assert prompts == {"\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Tell me a fact.\n\nAssistant:", "c#"}
    assert len(data.comparisons) == 2 and data.summary()["n_ties"] == 1


def test_helpsteer2_messages():
    assert helpsteer2_messages("plain") == [{"role": "user", "content": "plain"}]
    assert helpsteer2_messages("u1<extra_id_1>Assistant\na1<extra_id_1>User\nu2") == [
        {"role": "user", "content": "u1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
    ]


def test_rating_option_changes_the_preference(tmp_path):
    data = load("helpsteer", data_files=write_jsonl(tmp_path / "train.jsonl", ROWS), rating="correctness")
    assert data.preference == "higher correctness rating"
    assert data.summary()["n_ties"] == 2  # B and D, both 3; E and F, both 3 (F now counts: its correctness is known)
    assert len(data.comparisons) == 7 and "missing helpfulness rating" not in data.accounting.dropped
