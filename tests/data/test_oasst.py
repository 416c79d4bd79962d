"""The OpenAssistant oasst1/oasst2 loader on a fixture in the original schema (flat message rows, parquet as on the Hub)."""

from __future__ import annotations

import pytest

from tests.data.files import write_parquet
from typicality.data import load
from typicality.domain import ANNOTATOR_COLUMN
from typicality.errors import TypicalityError

DETOXIFY = {"toxicity": 0.0004, "severe_toxicity": 0.00003, "obscene": 0.0001, "identity_attack": 0.0001, "insult": 0.0002,
            "threat": 0.00004, "sexual_explicit": 0.00002}  # fmt: skip


def message(message_id, parent_id, role, text, tree, rank=None, lang="en", deleted=False):
    """One message row, field for field as the card lists them."""
    return {
        "message_id": message_id,
        "parent_id": parent_id,
        "user_id": f"user-{message_id}",
        "created_date": "2023-02-05T14:23:50.983374+00:00",
        "text": text,
        "role": role,
        "lang": lang,
        "review_count": 3,
        "review_result": True,
        "deleted": deleted,
        "rank": rank,
        "synthetic": False,
        "model_name": None,
        "detoxify": DETOXIFY,
        "message_tree_id": tree,
        "tree_state": "ready_for_export",
        "emojis": {"name": ["+1"], "count": [2]},
        "labels": {"name": ["spam", "quality"], "value": [0.0, 0.75], "count": [3, 3]},
    }


CAT = "What is a good name for a cat?"
ROWS = [
    message("m1", None, "prompter", CAT, "m1"),
    message("m2", "m1", "assistant", "Whiskers.", "m1", rank=1),
    message("m3", "m1", "assistant", "Luna is a popular choice.", "m1", rank=0),
    message("m4", "m1", "assistant", "Cat.", "m1"),  # not ranked
    message("m5", "m1", "assistant", "Tom.", "m1", rank=2),
    message("m6", "m3", "prompter", "Why Luna?", "m1"),
    message("m7", "m6", "assistant", "It means moon.", "m1", rank=0),
    message("m8", "m6", "assistant", "Because.", "m1", rank=1),
    message("m9", "m6", "assistant", "Removed reply.", "m1", rank=2, deleted=True),
    message("n1", None, "prompter", "Hallo", "n1", lang="de"),
    message("n2", "n1", "assistant", "Hallo! Wie kann ich helfen?", "n1", rank=0, lang="de"),  # the only ranked reply
    message("n3", "n1", "assistant", "Hi", "n1", lang="de"),
    message("o2", "o1", "assistant", "An answer.", "o1", rank=0),  # its parent o1 is not in the file
    message("o3", "o1", "assistant", "Another answer.", "o1", rank=1),
]


def test_ranked_siblings_become_pairs_within_their_parent(tmp_path):
    data = load("oasst", data_files=write_parquet(tmp_path / "train.parquet", ROWS))
    summary = data.summary()
    assert (summary["subset"], summary["split"], summary["n_rows"], summary["n_comparisons"], summary["n_ties"]) == ("oasst1", "train", 14, 4, 0)
    assert summary["dropped"] == {
        "unranked reply (rank null)": 2,
        "deleted reply": 1,
        "only ranked reply to its parent": 1,
        "reply whose conversation is missing from the rows read": 2,
    }
    comparisons = data.comparisons
    texts = dict(zip(data.responses["response_id"], data.responses["response"]))
    pairs = [(texts[a], texts[b]) for a, b in zip(comparisons["response_a"], comparisons["response_b"])]
    assert pairs == [("Whiskers.", "Luna is a popular choice."), ("Whiskers.", "Tom."), ("Luna is a popular choice.", "Tom."),
                     ("It means moon.", "Because.")]  # fmt: skip
    assert comparisons["label"].tolist() == [0.0, 1.0, 1.0, 1.0]  # rank 1 vs 0, 1 vs 2, 0 vs 2, 0 vs 1
    assert comparisons[["rank_a", "rank_b"]].values.tolist() == [[1, 0], [1, 2], [0, 2], [0, 1]]
    assert comparisons["parent_id"].tolist() == ["m1", "m1", "m1", "m6"]
    assert comparisons["lang"].tolist() == ["en"] * 4
    assert comparisons["message_tree_id"].tolist() == ["m1"] * 4
    assert ANNOTATOR_COLUMN not in comparisons.columns  # the rank aggregates several rankers, unnamed
    prompts = dict(zip(data.responses["prompt_id"], data.responses["prompt"]))
    assert prompts[comparisons["prompt_id"].iloc[0]] == CAT
    assert prompts[comparisons["prompt_id"].iloc[3]] == (
        f"\n\nHuman: {CAT}\n\nAssistant: Luna is a popular choice.\n\nHuman: Why Luna?\n\nAssistant:"
    )


def test_equal_ranks_are_a_tie_and_oasst2_is_a_subset(tmp_path):
    rows = [message("r", None, "prompter", "Hi", "r"), message("a", "r", "assistant", "Hello.", "r", rank=0),
            message("b", "r", "assistant", "Hey.", "r", rank=0)]  # fmt: skip
    data = load("oasst", data_files=write_parquet(tmp_path / "train.parquet", rows), subset="oasst2")
    assert data.subset == "oasst2"
    assert data.comparisons["label"].tolist() == [0.5]


def test_an_unknown_subset_names_the_subsets(tmp_path):
    with pytest.raises(TypicalityError, match="no subset 'oasst3'. Its subsets: oasst1, oasst2"):
        load("oasst", data_files=write_parquet(tmp_path / "train.parquet", ROWS), subset="oasst3")
