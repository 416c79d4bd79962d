"""The lmsys/mt_bench_human_judgments loader on fixtures in the original schema (parquet, one file per split, as on the Hub)."""

from __future__ import annotations

import pytest

from tests.data.files import assistant, user, write_parquet
from typicality.data import load
from typicality.data.render import HISTORIES_DIFFER
from typicality.data.sources.mt_bench import NO_SUCH_TURN
from typicality.domain import ANNOTATOR_COLUMN
from typicality.errors import TypicalityError

QUESTIONS = {
    81: ("Compose a travel blog post about Hawaii.", "Rewrite it starting every sentence with A."),
    82: ("Draft an email asking for feedback.", "Now critique your own email."),
}
ANSWERS = {  # model -> question -> (first answer, second answer)
    "alpaca-13b": {81: ("Hawaii is nice.", "A nice place."), 82: ("Dear boss, feedback?", "A fine email.")},
    "gpt-4": {81: ("Aloha! My Hawaii trip...", "A trip to Hawaii..."), 82: ("Dear Sam, ...", "A critique: ...")},
    "claude-v1": {82: ("Hi Sam, could you...", "A self-critique...")},
    "vicuna-13b-v1.2": {82: ("Hello, please review...", "As a critique...")},
}


def conversation(model, question):
    """The model's whole two-turn conversation, as every row carries it whatever turn it judges."""
    (first, second), (answer_1, answer_2) = QUESTIONS[question], ANSWERS[model][question]
    return [user(first), assistant(answer_1), user(second), assistant(answer_2)]


def judgement(question, model_a, model_b, winner, judge, turn=1):
    """One row in the original schema, field for field."""
    return {
        "question_id": question,
        "model_a": model_a,
        "model_b": model_b,
        "winner": winner,
        "judge": judge,
        "conversation_a": conversation(model_a, question),
        "conversation_b": conversation(model_b, question),
        "turn": turn,
    }


HUMAN = [
    judgement(81, "gpt-4", "alpaca-13b", "model_a", "expert_0"),  # listed the other way round: swapped, label flipped
    judgement(81, "alpaca-13b", "gpt-4", "model_b", "expert_1"),
    judgement(81, "alpaca-13b", "gpt-4", "tie", "author_0"),
    judgement(81, "alpaca-13b", "gpt-4", "model_a", "expert_0", turn=2),  # each model wrote its own first answer
    judgement(82, "claude-v1", "vicuna-13b-v1.2", "model_a", "expert_2"),
    {**judgement(82, "claude-v1", "gpt-4", "model_b", "expert_3", turn=2), "conversation_b": conversation("gpt-4", 82)[:2]},
]
GPT4_PAIR = [
    judgement(81, "gpt-4", "alpaca-13b", "model_a", "gpt4_pair"),
    judgement(82, "claude-v1", "vicuna-13b-v1.2", "tie (inconsistent)", "gpt4_pair"),
    judgement(82, "claude-v1", "vicuna-13b-v1.2", "model_b", "gpt4_pair", turn=2),
    judgement(82, "claude-v1", "gpt-4", "error", "gpt4_pair"),  # a verdict that could not be parsed
]
PAIR_KEY = ["prompt_id", "response_a", "response_b"]


def test_human_split_labels_orientation_annotators_and_drops(tmp_path):
    data = load("mt-bench-human", data_files=write_parquet(tmp_path / "human.parquet", HUMAN))
    summary = data.summary()
    assert (summary["split"], summary["n_rows"], summary["n_comparisons"], summary["n_ties"]) == ("human", 6, 4, 1)
    assert summary["dropped"] == {HISTORIES_DIFFER: 1, NO_SUCH_TURN: 1}
    comparisons = data.comparisons
    # alpaca-13b sorts before gpt-4, so its answer is response_a in all three rows of question 81.
    assert comparisons["model_a"].tolist() == ["alpaca-13b"] * 3 + ["claude-v1"]
    assert comparisons["label"].tolist() == [0.0, 0.0, 0.5, 1.0]
    assert comparisons["winner"].tolist() == ["model_b", "model_b", "tie", "model_a"]
    assert comparisons["order_swapped"].tolist() == [True, False, False, False]
    assert comparisons[ANNOTATOR_COLUMN].tolist() == ["expert_0", "expert_1", "author_0", "expert_2"]
    assert comparisons["turn"].tolist() == [1, 1, 1, 1]
    assert comparisons["question_id"].tolist() == [81, 81, 81, 82]
    # Three judges of one pair: one prompt, the same two responses, three comparisons.
    assert len(comparisons[PAIR_KEY].drop_duplicates()) == 2
    texts = dict(zip(data.responses["response_id"], data.responses["response"]))
    prompts = dict(zip(data.responses["prompt_id"], data.responses["prompt"]))
    first = comparisons.iloc[0]
    # The turn-1 answers, not the last messages of the two-turn conversations; the prompt is the question verbatim.
    assert (texts[first["response_a"]], texts[first["response_b"]]) == ("Hawaii is nice.", "Aloha! My Hawaii trip...")
    assert prompts[first["prompt_id"]] == QUESTIONS[81][0]


def test_the_two_splits_give_the_same_pairs_in_the_same_orientation(tmp_path):
    human = load("mt-bench-human", data_files=write_parquet(tmp_path / "human.parquet", HUMAN))
    gpt4 = load("mt-bench-human", data_files=write_parquet(tmp_path / "gpt4_pair.parquet", GPT4_PAIR), split="gpt4_pair")
    assert gpt4.split == "gpt4_pair"
    assert gpt4.comparisons["label"].tolist() == [0.0, 0.5]
    assert gpt4.comparisons[ANNOTATOR_COLUMN].tolist() == ["gpt4_pair", "gpt4_pair"]
    assert gpt4.accounting.dropped == {HISTORIES_DIFFER: 1, "winner not model_a, model_b, tie or tie (inconsistent)": 1}
    joined = human.comparisons.merge(gpt4.comparisons, on=PAIR_KEY, suffixes=("_human", "_gpt4"))
    assert len(joined) == 3 + 1  # the three human votes on 81 and the one on 82 each meet GPT-4's verdict
    assert joined[["label_human", "label_gpt4"]].values.tolist() == [[0.0, 0.0], [0.0, 0.0], [0.5, 0.0], [1.0, 0.5]]


def test_an_unknown_split_names_the_splits(tmp_path):
    with pytest.raises(TypicalityError, match="no split 'gpt4'. Its splits: human, gpt4_pair"):
        load("mt-bench-human", data_files=write_parquet(tmp_path / "human.parquet", HUMAN), split="gpt4")
