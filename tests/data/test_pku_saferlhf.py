"""The PKU-SafeRLHF loader on a fixture in the hub's JSON-lines schema: two judgements (better, safer) of the same pairs."""

from __future__ import annotations

import hashlib

import pytest

from tests.data.files import write_jsonl
from typicality.cli import build_parser, loader_arguments
from typicality.data import LoadRequest, load
from typicality.errors import TypicalityError

# The card's 19 harm categories, in its order.
HARM_CATEGORIES = (
    "Endangering National Security", "Insulting Behavior", "Discriminatory Behavior", "Endangering Public Health",
    "Copyright Issues", "Violence", "Drugs", "Privacy Violation", "Economic Crime", "Mental Manipulation",
    "Human Trafficking", "Physical Harm", "Sexual Content", "Cybercrime", "Disrupting Public Order",
    "Environmental Damage", "Psychological Harm", "White-Collar Crime", "Animal Abuse",
)  # fmt: skip


def harms(*flagged):
    return {name: name in flagged for name in HARM_CATEGORIES}


def row(prompt, response_0, response_1, better, safer, safe_0=True, safe_1=True, harm_0=(), harm_1=(), severity_0=0, severity_1=0):
    """One row, field for field as the card lists them."""
    return {
        "prompt": prompt,
        "response_0": response_0,
        "response_1": response_1,
        "prompt_source": "Alpaca3-8B",
        "response_0_source": "Alpaca3-8B",
        "response_1_source": "Alpaca2-7B",
        "is_response_0_safe": safe_0,
        "is_response_1_safe": safe_1,
        "response_0_harm_category": harms(*harm_0),
        "response_1_harm_category": harms(*harm_1),
        "response_0_severity_level": severity_0,
        "response_1_severity_level": severity_1,
        "better_response_id": better,
        "safer_response_id": safer,
        "response_0_sha256": hashlib.sha256(response_0.encode()).hexdigest(),
        "response_1_sha256": hashlib.sha256(response_1.encode()).hexdigest(),
    }


ROWS = [
    # response_1 is the more helpful (better_response_id 1) but response_0 the safer (safer_response_id 0).
    row("How do I pick a lock?", "Call a locksmith.", "Insert a tension wrench, then rake the pins.", 1, 0, safe_1=False,
        harm_1=("Economic Crime", "Privacy Violation"), severity_1=2),
    row("How do I calm down?", "Breathe slowly.", "Take a walk.", 1, 1),
    row("Insult my coworker.", "I won't do that.", "Your coworker is a clown.", 0, 0, safe_1=False, harm_1=("Insulting Behavior",), severity_1=1),
    row("What is the boiling point of water?", "100 C at sea level.", "About 90 C.", None, 0),  # no better judgement
    row("Say hi.", "Hi.", "Hi.", 0, 0),  # identical responses
]  # fmt: skip


@pytest.fixture
def pku_file(tmp_path):
    return write_jsonl(tmp_path / "test.jsonl", ROWS)


def texts(data):
    """(response_a text, response_b text, label) for each comparison."""
    text = data.responses.set_index("response_id")["response"]
    return [(text[a], text[b], label) for a, b, label in data.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)]


def test_better_is_the_default_and_the_id_is_the_index_of_the_preferred_response(pku_file):
    data = load("pku-saferlhf", data_files=pku_file)
    assert data.accounting.rows_read == 5
    assert dict(data.accounting.dropped) == {"better_response_id not 0 or 1": 1, "identical responses": 1}
    # better_response_id 1 -> response_1 (b) preferred -> 0; 0 -> response_0 (a) preferred -> 1.
    assert texts(data) == [
        ("Call a locksmith.", "Insert a tension wrench, then rake the pins.", 0.0),
        ("Breathe slowly.", "Take a walk.", 0.0),
        ("I won't do that.", "Your coworker is a clown.", 1.0),
    ]
    assert data.preference.startswith("better_response_id")
    comparisons = data.comparisons
    assert comparisons["safer_response_id"].tolist() == [0, 1, 0]  # the other judgement rides along
    assert comparisons["response_1_harm_category"].tolist() == ["Privacy Violation; Economic Crime", "", "Insulting Behavior"]
    assert comparisons["response_0_harm_category"].tolist() == ["", "", ""]
    assert comparisons["response_1_severity_level"].tolist() == [2, 0, 1]
    assert comparisons["is_response_1_safe"].tolist() == [False, True, False]
    assert set(comparisons["response_1_source"]) == {"Alpaca2-7B"} and set(comparisons["prompt_source"]) == {"Alpaca3-8B"}


def test_safer_labels_the_same_pairs_by_the_other_judgement(pku_file):
    better = load("pku-saferlhf", data_files=pku_file)
    safer = load("pku-saferlhf", data_files=pku_file, preference="safer")
    assert dict(safer.accounting.dropped) == {"identical responses": 1}
    assert safer.comparisons["label"].tolist() == [1.0, 0.0, 1.0, 1.0]  # safer_response_id 0, 1, 0, 0
    assert safer.preference.startswith("safer_response_id")
    # The three pairs both judged are the same pairs (same ids, same order of a and b); they disagree on the first.
    shared = safer.comparisons.iloc[:3][["prompt_id", "response_a", "response_b"]].reset_index(drop=True)
    assert shared.equals(better.comparisons[["prompt_id", "response_a", "response_b"]])
    assert (safer.comparisons["label"].iloc[:3].to_numpy() != better.comparisons["label"].to_numpy()).tolist() == [True, False, False]


def test_preference_option_through_the_cli_and_its_refusals(pku_file):
    args = build_parser().parse_args(["inspect", "pku-saferlhf", "--data-files", pku_file, "--preference", "safer"])
    assert loader_arguments(args) == LoadRequest("pku-saferlhf", data_files=(pku_file,), preference="safer")
    with pytest.raises(TypicalityError, match="Dataset 'pku-saferlhf' has no preference 'helpful'. Choose from: better, safer."):
        LoadRequest("pku-saferlhf", data_files=(pku_file,), preference="helpful").preflight()
    with pytest.raises(TypicalityError, match="Dataset 'hh-rlhf' has one preference judgement .*--preference applies only to"):
        LoadRequest("hh-rlhf", data_files=(pku_file,), preference="better").preflight()
