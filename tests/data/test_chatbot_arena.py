"""The lmsys/chatbot_arena_conversations loader on a fixture in the original schema (parquet, as on the Hub)."""

from __future__ import annotations

from tests.data.files import assistant, user, write_parquet
from typicality.data import load
from typicality.data.render import HISTORIES_DIFFER
from typicality.domain import ANNOTATOR_COLUMN

MODERATION_CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "self-harm")


def battle(number, winner, conversation_a, conversation_b, language="English"):
    """One battle in the original schema, field for field (as in ../shared/data/chatbot-arena; a test compares)."""
    return {
        "question_id": f"q{number}",
        "model_a": "vicuna-13b",
        "model_b": "koala-13b",
        "winner": winner,
        "judge": f"arena_user_{number}",
        "conversation_a": conversation_a,
        "conversation_b": conversation_b,
        "turn": sum(m["role"] == "user" for m in conversation_a),
        "anony": True,
        "language": language,
        "tstamp": 1682351591.1322,
        "openai_moderation": {
            "categories": dict.fromkeys(MODERATION_CATEGORIES, False),
            "category_scores": dict.fromkeys(MODERATION_CATEGORIES, 1e-06),
            "flagged": False,
        },
        "toxic_chat_tag": {"roberta-large": {"flagged": False, "probability": 0.01}, "t5-large": {"flagged": False, "score": 0.0001}},
    }


def single(question, answer_a, answer_b):
    return [user(question), assistant(answer_a)], [user(question), assistant(answer_b)]


FRANCE = "What is the capital of France?"
ROWS = [
    battle(1, "model_a", *single(FRANCE, "Paris.", "Lyon.")),
    battle(2, "model_b", *single(FRANCE, "Paris.", "It is Paris.")),  # "Paris." again: one response, two pairs
    battle(3, "tie", *single("2+2?", "4", "Four")),
    battle(4, "tie (bothbad)", *single("Hola", "Hola!", "Hi!"), language="Spanish"),
    battle(  # each model answered the first turn itself: earlier turns differ
        5,
        "model_a",
        [user("Hi"), assistant("Hello!"), user("A color?"), assistant("Blue")],
        [user("Hi"), assistant("Hey."), user("A color?"), assistant("Red")],
    ),
    battle(
        6,
        "model_b",
        [user("Hi"), assistant("Hello!"), user("A fruit?"), assistant("Apple")],
        [user("Hi"), assistant("Hello!"), user("A fruit?"), assistant("Pear")],
    ),
    battle(7, "model_a", *single("Say something.", "Something.", "")),  # empty response
]


def test_winner_labels_ties_and_multi_turn_handling(tmp_path):
    data = load("chatbot-arena", data_files=write_parquet(tmp_path / "train.parquet", ROWS))
    summary = data.summary()
    assert summary["n_rows"] == 7
    assert summary["n_comparisons"] == 5
    assert summary["n_ties"] == 2
    assert summary["n_prompts"] == 4
    assert summary["n_responses"] == 9  # France 3, 2+2 2, Hola 2, fruit 2
    assert summary["dropped"] == {HISTORIES_DIFFER: 1, "empty response": 1}
    assert data.comparisons["label"].tolist() == [1.0, 0.0, 0.5, 0.5, 0.0]
    assert data.comparisons["winner"].tolist() == ["model_a", "model_b", "tie", "tie (bothbad)", "model_b"]
    assert data.comparisons["language"].tolist() == ["English"] * 3 + ["Spanish", "English"]
    assert data.comparisons["turn"].tolist() == [1, 1, 1, 1, 2]
    assert data.comparisons[ANNOTATOR_COLUMN].tolist() == ["arena_user_1", "arena_user_2", "arena_user_3", "arena_user_4", "arena_user_6"]  # judge
    fruit = data.responses[data.responses["response"] == "Apple"]["prompt"].item()
    assert fruit == "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: A fruit?\n\nAssistant:"
    assert set(data.responses["prompt"]) >= {FRANCE, "2+2?", "Hola"}  # single turns verbatim


def test_pair_metadata_survives_a_data_folder(tmp_path):
    from pandas.testing import assert_frame_equal

    from typicality.audit_folder import load_data, save_data

    data = load("chatbot-arena", data_files=write_parquet(tmp_path / "train.parquet", ROWS))
    save_data(data, tmp_path / "folder")
    assert_frame_equal(load_data(tmp_path / "folder").comparisons, data.comparisons)
