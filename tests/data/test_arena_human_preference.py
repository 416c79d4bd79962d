"""The arena-human-preference loader on fixtures in the three released layouts (55k CSV, 100k and 140k parquet)."""

from __future__ import annotations

import csv
import json

from tests.data.files import assistant, user, write_parquet
from typicality.data import load
from typicality.data.render import HISTORIES_DIFFER
from typicality.data.sources.arena_human_preference import LATER_VOTE, NON_TEXT, NOT_JSON_TURNS, NOT_ONE_HOT, NULL_TURN, UNEQUAL_TURNS, UNKNOWN_WINNER
from typicality.domain import ANNOTATOR_COLUMN

HEADER_55K = ["id", "model_a", "model_b", "prompt", "response_a", "response_b", "winner_model_a", "winner_model_b", "winner_tie"]


def row_55k(number, prompt, response_a, response_b, winners):
    """One row of train.csv: turns as JSON-encoded lists (as json.dumps writes them), the winner one-hot over three columns."""
    encoded = [text if isinstance(text, str) else json.dumps(text) for text in (prompt, response_a, response_b)]
    return [number, "gpt-4-1106-preview", "claude-2.1", *encoded, *winners]


A, B, TIE = (1, 0, 0), (0, 1, 0), (0, 0, 1)
ROWS_55K = [
    row_55k(1, ["What is 2+2?"], ["4"], ["Five"], A),
    row_55k(2, ["Capital of France?"], ["Lyon"], ["Paris"], B),
    row_55k(3, ["Hi"], ["Hello!"], ["Hey."], TIE),
    row_55k(4, ["Hi", "A fruit?"], ["Hello!", "Apple"], ["Hello!", "Pear"], B),  # multi-turn, same first answer: kept
    row_55k(5, ["Hi", "A color?"], ["Hello!", "Blue"], ["Hey.", "Red"], A),  # multi-turn, first answers differ: dropped
    row_55k(6, ["Tell me a joke"], [None], ["Why did the chicken cross the road?"], A),  # a null reply: dropped
    row_55k(7, ["Q?"], ["x"], ["y"], (1, 1, 0)),  # two winners: dropped
    row_55k(8, ["Q?"], ["x"], ["y"], (0, 0, 0)),  # no winner: dropped
    row_55k(9, "What is love?", '["Baby don\'t hurt me"]', '["A feeling"]', A),  # the prompt is not a JSON list: dropped
    row_55k(10, ["a", "b"], ["x"], ["y"], A),  # turn lists of unequal length: dropped
    row_55k(11, ['Say "hi" in Japanese'], ["こんにちは"], ["Konnichiwa"], TIE),
    row_55k(12, ["Smile"], ['"😀"'], ["Sure \ud83d"], A),  # an emoji cut in half: its lone surrogate escape is repaired
]


def write_55k(path):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER_55K)
        writer.writerows(ROWS_55K)
    return str(path)


def test_55k_one_hot_winners_json_turns_and_drops(tmp_path):
    data = load("arena-human-preference", data_files=write_55k(tmp_path / "train.csv"))
    summary = data.summary()
    assert summary["n_rows"] == 12
    assert summary["n_comparisons"] == 6
    assert summary["dropped"] == {HISTORIES_DIFFER: 1, NULL_TURN: 1, NOT_ONE_HOT: 2, NOT_JSON_TURNS: 1, UNEQUAL_TURNS: 1}
    assert data.subset == "55k" and summary["n_ties"] == 2
    comparisons = data.comparisons
    assert comparisons["id"].tolist() == [1, 2, 3, 4, 11, 12]
    assert comparisons["label"].tolist() == [1.0, 0.0, 0.5, 0.0, 0.5, 1.0]
    assert comparisons["winner"].tolist() == ["model_a", "model_b", "tie", "model_b", "tie", "model_a"]
    assert comparisons["turn"].tolist() == [1, 1, 1, 2, 1, 1]
    assert set(comparisons["model_a"]) == {"gpt-4-1106-preview"} and set(comparisons["model_b"]) == {"claude-2.1"}
    assert ANNOTATOR_COLUMN not in comparisons
    text = data.responses.set_index("response_id")["response"]
    pairs = [(text[a], text[b]) for a, b in zip(comparisons["response_a"], comparisons["response_b"])]
    assert pairs == [("4", "Five"), ("Lyon", "Paris"), ("Hello!", "Hey."), ("Apple", "Pear"), ("こんにちは", "Konnichiwa"), ('"😀"', "Sure \ufffd")]
    prompts = data.responses.drop_duplicates("prompt_id")["prompt"].tolist()
    fruit = "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: A fruit?\n\nAssistant:"
    assert prompts == ["What is 2+2?", "Capital of France?", "Hi", fruit, 'Say "hi" in Japanese', "Smile"]
    assert "2 battles are multi-turn; 1 of them kept (earlier turns identical on both sides)." in summary["notes"]
    assert "1 turns held unpaired surrogates (invalid Unicode, e.g. a cut emoji), each replaced by U+FFFD." in summary["notes"]


def conversation_100k(question, answer, earlier=()):
    return [*earlier, user(question), assistant(answer)]


def row_100k(number, winner, conversation_a, conversation_b, judge):
    """One row of the 100k release, field for field as its card lists them."""
    return {
        "question_id": f"q{number}",
        "model_a": "llama-3-70b-instruct",
        "model_b": "gemini-1.5-pro-api-0514",
        "winner": winner,
        "judge_hash": judge,
        "conversation_a": conversation_a,
        "conversation_b": conversation_b,
        "turn": sum(m["role"] == "user" for m in conversation_a),
        "anony": True,
        "language": "English",
        "tstamp": 1719000000.5,
        "conv_metadata": {"sum_user_tokens": 5, "sum_assistant_a_tokens": 3, "sum_assistant_b_tokens": 4, "context_a_tokens": 5, "context_b_tokens": 5},
        "is_code": False,
        "is_refusal": False,
        "dedup_tag": {"high_freq": False, "sampled": True},
        "category_tag": {"math_v0.1": {"math": False}, "if_v0.1": {"if": False, "score": 1}},
    }


def test_100k_winner_strings_and_the_voter_as_annotator(tmp_path):
    earlier_a, earlier_b = [user("Hi"), assistant("A")], [user("Hi"), assistant("B")]  # each model answered the first turn itself
    rows = [
        row_100k(1, "model_a", conversation_100k("Name a planet.", "Mars"), conversation_100k("Name a planet.", "Pluto"), "u1"),
        row_100k(2, "tie (bothbad)", conversation_100k("2+2?", "5"), conversation_100k("2+2?", "22"), "u2"),
        row_100k(3, "model_b", conversation_100k("More?", "x", earlier_a), conversation_100k("More?", "y", earlier_b), "u3"),
        row_100k(4, "", conversation_100k("Q", "x"), conversation_100k("Q", "y"), "u4"),
    ]
    data = load("arena-human-preference", data_files=write_parquet(tmp_path / "arena-explorer-preference-100k.parquet", rows))
    assert data.subset == "100k" and data.accounting.rows_read == 4
    assert dict(data.accounting.dropped) == {HISTORIES_DIFFER: 1, UNKNOWN_WINNER: 1}
    assert data.comparisons["label"].tolist() == [1.0, 0.5]
    assert data.comparisons[ANNOTATOR_COLUMN].tolist() == ["u1", "u2"]
    assert data.comparisons["question_id"].tolist() == ["q1", "q2"]
    assert data.comparisons["language"].tolist() == ["English", "English"]


def parts_message(role, *texts, image=None):
    """A 140k message: content is a list of parts {type, text, image, mimeType}."""
    parts = [{"type": "text", "text": text, "image": None, "mimeType": None} for text in texts]
    if image:
        parts.append({"type": "image", "text": None, "image": image, "mimeType": "image/png"})
    return {"role": role, "content": parts}


def row_140k(number, winner, order, question, answer_a, answer_b, session="s1", image=None):
    """One row of the 140k release, field for field as its card lists them."""
    conversation_a = [parts_message("user", *question, image=image), {**parts_message("assistant", answer_a), "num_tokens": 3}]
    conversation_b = [parts_message("user", *question, image=image), {**parts_message("assistant", answer_b), "num_tokens": 4}]
    return {
        "id": f"vote-{number}",
        "model_a": "gemini-2.5-pro",
        "model_b": "claude-3-7-sonnet-20250219",
        "winner": winner,
        "evaluation_session_id": session,
        "evaluation_order": order,
        "conversation_a": conversation_a,
        "conversation_b": conversation_b,
        "full_conversation": [{"user": conversation_a[0], "model_side_a": conversation_a[1], "model_side_b": conversation_b[1]}],
        "conv_metadata": {"sum_assistant_a_tokens": 3, "sum_assistant_b_tokens": 4, "context_a_tokens": 2, "context_b_tokens": 2, "turns": 1},
        "category_tag": {"math_v0.1": {"math": False}, "creative_writing_v0.1": {"creative_writing": False, "score": "no"}},
        "language": "en",
        "is_code": False,
        "timestamp": "2025-05-29T14:48:41.602925",
    }


def test_140k_content_parts_later_votes_and_images(tmp_path):
    rows = [
        row_140k(1, "model_b", 1, ["Why is the sky blue?"], "Rayleigh scattering.", "Because it is."),
        row_140k(2, "model_a", 2, ["And at sunset?"], "Red light.", "Orange."),  # continues session s1: dropped
        row_140k(3, "both_bad", 1, ["Write a haiku."], "Leaves fall", "Snow melts", session="s2"),
        row_140k(4, "model_a", 1, ["What is in this picture?"], "A cat.", "A dog.", session="s3", image="https://img/1.png"),
        row_140k(5, "tie", 1, ["Part one.", "Part two."], "Done.", "Finished.", session="s4"),
    ]
    data = load("arena-human-preference", data_files=write_parquet(tmp_path / "train.parquet", rows))
    assert data.subset == "140k" and data.accounting.rows_read == 5
    assert dict(data.accounting.dropped) == {LATER_VOTE: 1, NON_TEXT: 1}
    assert data.comparisons["label"].tolist() == [0.0, 0.5, 0.5]
    assert data.comparisons["winner"].tolist() == ["model_b", "both_bad", "tie"]
    assert data.comparisons["evaluation_order"].tolist() == [1, 1, 1]
    assert ANNOTATOR_COLUMN not in data.comparisons  # a session id is not a voter id
    assert set(data.responses["prompt"]) == {"Why is the sky blue?", "Write a haiku.", "Part one.\nPart two."}


def test_pair_metadata_survives_a_data_folder(tmp_path):
    from pandas.testing import assert_frame_equal

    from typicality.audit_folder import load_data, save_data

    data = load("arena-human-preference", data_files=write_55k(tmp_path / "train.csv"))
    save_data(data, tmp_path / "folder")
    assert_frame_equal(load_data(tmp_path / "folder").comparisons, data.comparisons)
