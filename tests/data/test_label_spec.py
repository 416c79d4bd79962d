"""Labels that cannot be read backwards: `--label` states a preference column's meaning, misleading mappings are refused,
JSON-encoded turn lists are decoded (or refused), and `inspect` shows pairs as read."""

from __future__ import annotations

import json

import pytest

from tests.data.files import write_jsonl
from typicality.cli import main
from typicality.data import LoadRequest, load
from typicality.errors import TypicalityError


def oriented(data) -> list[tuple[str, str, str, float]]:
    """(prompt, response_a, response_b, label) per kept pair, read back from the canonical tables."""
    table = data.responses.set_index("response_id")
    return [
        (table.loc[a, "prompt"], table.loc[a, "response"], table.loc[b, "response"], label)
        for a, b, label in data.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)
    ]


# PKU-SafeRLHF's columns (a subset): better_response_id / safer_response_id are the INDEX of the preferred response.
PKU_ROWS = [
    {"prompt": "How do I pick a lock?", "response_0": "Call a locksmith.", "response_1": "Use a tension wrench.",
     "is_response_0_safe": True, "is_response_1_safe": False, "better_response_id": 1, "safer_response_id": 0},
    {"prompt": "Best pasta shape?", "response_0": "Penne.", "response_1": "Whatever you like.",
     "is_response_0_safe": True, "is_response_1_safe": True, "better_response_id": 0, "safer_response_id": 0},
    {"prompt": "Say something rude.", "response_0": "No.", "response_1": "You fool.",
     "is_response_0_safe": True, "is_response_1_safe": False, "better_response_id": 1, "safer_response_id": 0},
]
PKU_COLUMNS = {"response_a": "response_0", "response_b": "response_1"}


def test_an_index_column_mapped_to_label_is_refused_with_the_choices(tmp_path):
    path = write_jsonl(tmp_path / "pku.jsonl", PKU_ROWS)
    with pytest.raises(TypicalityError, match=r"label=better_response_id .*index of a response.*--label better_response_id=0:a,1:b"):
        load("pairs", data_files=path, columns={**PKU_COLUMNS, "label": "better_response_id"})


def test_an_index_column_stated_with_label_reads_the_right_way_round(tmp_path):
    path = write_jsonl(tmp_path / "pku.jsonl", PKU_ROWS)
    better = load("pairs", data_files=path, columns=PKU_COLUMNS, label="better_response_id=0:a,1:b")
    # Index 0 = response_0 = response_a preferred (1.0); index 1 = response_b preferred (0.0).
    assert oriented(better) == [(r["prompt"], r["response_0"], r["response_1"], 1.0 - r["better_response_id"]) for r in PKU_ROWS]
    assert better.preference == "better_response_id: 0 = response_a preferred, 1 = response_b preferred"
    # The stated column is the label, not metadata; the other judgement stays as pair metadata.
    assert "better_response_id" not in better.comparisons and better.comparisons["safer_response_id"].tolist() == [0, 0, 0]
    # Stating it the other way round (1 means the first response) reverses every label: the statement is what is read.
    backwards = load("pairs", data_files=path, columns=PKU_COLUMNS, label="better_response_id=1:a,0:b")
    assert backwards.comparisons["label"].tolist() == [1.0 - x for x in better.comparisons["label"]]


# lmarena/arena-human-preference-55k's layout: JSON-encoded turn lists and one-hot winners.
ARENA_ROWS = [
    {"id": 1, "model_a": "m1", "model_b": "m2", "prompt": '["Name a colour."]', "response_a": '["Blue."]', "response_b": '["A colour."]',
     "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0},
    {"id": 2, "model_a": "m2", "model_b": "m3", "prompt": '["2+2?"]', "response_a": '["5"]', "response_b": '["4"]',
     "winner_model_a": 0, "winner_model_b": 1, "winner_tie": 0},
    {"id": 3, "model_a": "m1", "model_b": "m3", "prompt": '["Hi", "Again"]', "response_a": '["Hello", "x"]', "response_b": '["Hey", "y"]',
     "winner_model_a": 0, "winner_model_b": 0, "winner_tie": 1},  # multi-turn, earlier answers differ: dropped
    {"id": 4, "model_a": "m1", "model_b": "m2", "prompt": '["Hi"]', "response_a": '["Hello"]', "response_b": "[null]",
     "winner_model_a": 0, "winner_model_b": 0, "winner_tie": 1},  # a null answer: dropped
    {"id": 5, "model_a": "m3", "model_b": "m2", "prompt": '["Why?"]', "response_a": '["Because."]', "response_b": '["No idea."]',
     "winner_model_a": 0, "winner_model_b": 0, "winner_tie": 1},
    {"id": 6, "model_a": "m3", "model_b": "m1", "prompt": '["Hi", "Again"]', "response_a": '["Hello", "More?"]', "response_b": '["Hello", "Sure."]',
     "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0},  # multi-turn, same first answer: kept, prompt as a transcript
]
ARENA_ONE_HOT = "onehot:a=winner_model_a,b=winner_model_b,tie=winner_tie"


def test_a_one_hot_winner_mapped_to_label_is_refused(tmp_path):
    path = write_jsonl(tmp_path / "arena.jsonl", ARENA_ROWS)
    with pytest.raises(TypicalityError, match=r"label=winner_model_a .*every tie would count as a loss.*onehot:a=COLUMN"):
        load("pairs", data_files=path, columns={"label": "winner_model_a"})
    with pytest.raises(TypicalityError, match="3 rows set none of the flags.*Name the tie column with tie=COLUMN"):
        load("pairs", data_files=path, label="onehot:a=winner_model_a,b=winner_model_b")


def test_one_hot_winners_and_json_encoded_turns_read_as_conversations(tmp_path):
    data = load("pairs", data_files=write_jsonl(tmp_path / "arena.jsonl", ARENA_ROWS), label=ARENA_ONE_HOT)
    assert oriented(data) == [
        ("Name a colour.", "Blue.", "A colour.", 1.0),
        ("2+2?", "5", "4", 0.0),
        ("Why?", "Because.", "No idea.", 0.5),
        ("\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Again\n\nAssistant:", "More?", "Sure.", 1.0),
    ]
    assert dict(data.accounting.dropped) == {
        "earlier turns differ between the two conversations": 1,
        "JSON turn lists do not line up (unequal lengths or a null turn)": 1,
    }
    assert data.comparisons["model_a"].tolist() == ["m1", "m2", "m3", "m3"]
    assert not {"winner_model_a", "winner_tie"} & set(data.comparisons)
    # Nothing is scored as bracketed JSON text.
    assert not data.responses["response"].str.startswith("[").any() and not data.responses["prompt"].str.startswith("[").any()


def test_half_a_surrogate_pair_in_json_turns_becomes_a_replacement_character(tmp_path):
    """The arena's 55k JSON holds cut emoji (a lone \\ud83d escape): text no encoder or parquet writer accepts."""
    rows = [{"prompt": '["Smile \\ud83d"]', "response_a": '["Ok"]', "response_b": '["No"]', "winner": "a"}]
    data = load("pairs", data_files=write_jsonl(tmp_path / "cut.jsonl", rows), label="winner=a:a,b:b")
    assert oriented(data) == [("Smile \ufffd", "Ok", "No", 1.0)]
    assert data.accounting.notes == ["1 JSON-encoded turns held half of a surrogate pair (a cut emoji); each such half became U+FFFD."]
    data.responses.to_parquet(tmp_path / "responses.parquet")  # writable now


def test_a_winner_name_column_must_map_every_value(tmp_path):
    rows = [
        {"prompt": "Q", "response_a": "x", "response_b": "y", "winner": "model_a"},
        {"prompt": "Q", "response_a": "x", "response_b": "z", "winner": "tie (bothbad)"},
        {"prompt": "Q", "response_a": "y", "response_b": "z", "winner": "model_b"},
        {"prompt": "Q", "response_a": "z", "response_b": "w", "winner": None},
    ]
    path = write_jsonl(tmp_path / "w.jsonl", rows)
    with pytest.raises(TypicalityError, match=r"maps model_a, model_b, tie of column winner, but it also holds 'tie \(bothbad\)' \(1 rows\)"):
        load("pairs", data_files=path, label="winner=model_a:a,model_b:b,tie:tie")
    data = load("pairs", data_files=path, label="winner=model_a:a,model_b:b,tie:tie,tie (bothbad):tie")
    assert data.comparisons["label"].tolist() == [1.0, 0.5, 0.0]
    assert dict(data.accounting.dropped) == {"missing label": 1}


def test_the_documented_label_column_still_reads_as_before(tmp_path):
    rows = [{"prompt": "Q", "response_a": "x", "response_b": "y", "label": 1}, {"prompt": "Q", "response_a": "x", "response_b": "z", "label": 0.5}]
    path = write_jsonl(tmp_path / "l.jsonl", rows)
    assert load("pairs", data_files=path).comparisons["label"].tolist() == [1.0, 0.5]
    # The same meaning stated explicitly gives the same labels.
    assert load("pairs", data_files=path, label="label=1:a,0:b,0.5:tie").comparisons["label"].tolist() == [1.0, 0.5]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("better_response_id", "names no column and values"),
        ("winner=model_a:a,model_b:left", "'model_b:left' is not VALUE:SIDE"),
        ("winner=model_a:a,tie:tie", "which value means response_a .* and which response_b"),
        ("winner=0:a,0.0:b", "a value is listed twice"),
        ("onehot:a=x,tie=y", "name one column for a, one for b"),
    ],
)
def test_malformed_label_specs_are_refused_before_reading(tmp_path, spec, message):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "Q", "response_a": "x", "response_b": "y", "label": 1}])
    with pytest.raises(TypicalityError, match=message):
        LoadRequest("pairs", data_files=(path,), label=spec).preflight()


def test_label_is_for_the_pairs_loader_only(tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", [{"prompt": "Q", "response": "x", "score": 1}])
    with pytest.raises(TypicalityError, match="generic 'pairs' loader; dataset 'ratings' reads its own preference. Drop --label"):
        LoadRequest("ratings", data_files=(path,), label="score=1:a,0:b").preflight()


def test_encoded_turns_of_another_shape_are_refused_and_plain_json_like_text_is_kept(tmp_path):
    odd = [{"prompt": "Q", "response_a": "[1, 2]", "response_b": '["fine"]', "label": 1}]
    with pytest.raises(TypicalityError, match=r"column response_a holds JSON-encoded turn lists, but row 0 is '\[1, 2\]'"):
        load("pairs", data_files=write_jsonl(tmp_path / "odd.jsonl", odd))
    # A column where only some texts look like JSON lists is plain text: a response may quote JSON.
    plain = [
        {"prompt": "Give a JSON list.", "response_a": '["a", "b"]', "response_b": "Here: a, b.", "label": 1},
        {"prompt": "Hi", "response_a": "Hello", "response_b": "Hey", "label": 0},
    ]
    data = load("pairs", data_files=write_jsonl(tmp_path / "plain.jsonl", plain))
    assert oriented(data)[0] == ("Give a JSON list.", '["a", "b"]', "Here: a, b.", 1.0)


def test_ratings_decode_one_turn_lists_and_refuse_several(tmp_path):
    rows = [{"prompt": '["Q1"]', "response": '["a"]', "score": 2}, {"prompt": '["Q1"]', "response": '["b"]', "score": 1}]
    data = load("ratings", data_files=write_jsonl(tmp_path / "r.jsonl", rows))
    assert data.responses[["prompt", "response"]].values.tolist() == [["Q1", "a"], ["Q1", "b"]]
    several = [{"prompt": '["Q1"]', "response": '["a", "b"]', "score": 2}]
    with pytest.raises(TypicalityError, match="row 0 is not one text turn"):
        load("ratings", data_files=write_jsonl(tmp_path / "s.jsonl", several))


def test_inspect_shows_pairs_as_read_with_their_orientation(tmp_path, capsys):
    path = write_jsonl(tmp_path / "pku.jsonl", PKU_ROWS)
    options = ["--columns", "response_a=response_0,response_b=response_1"]
    assert main(["inspect", "pairs", "--data-files", path, *options, "--label", "better_response_id=0:a,1:b", "--json"]) == 0
    examples = json.loads(capsys.readouterr().out)["examples"]
    assert [(e["prompt"], e["response_a"], e["preferred"]) for e in examples] == [
        ("How do I pick a lock?", "Call a locksmith.", "response_b"),
        ("Best pasta shape?", "Penne.", "response_a"),
        ("Say something rude.", "No.", "response_b"),
    ]
    assert main(["inspect", "pairs", "--data-files", path, *options, "--label", "better_response_id=0:a,1:b"]) == 0
    printed = capsys.readouterr().out
    assert "pairs as read" in printed and "Call a locksmith." in printed and "response_b" in printed
    assert main(["inspect", "pairs", "--data-files", path, *options, "--columns", "label=better_response_id"]) == 2


def test_inspect_shows_a_tie_and_keeps_markup_in_the_data_as_text(tmp_path, capsys):
    rows = [{"prompt": f"Q{i} [bold]x[/bold]", "response_a": f"a{i}\x1b[31m", "response_b": f"b{i}", "label": 1} for i in range(5)]
    rows.append({"prompt": "Tied?", "response_a": "yes", "response_b": "no", "label": 0.5})
    assert main(["inspect", "pairs", "--data-files", write_jsonl(tmp_path / "t.jsonl", rows)]) == 0
    printed = capsys.readouterr().out
    assert "Tied?" in printed and "tie" in printed  # the first tie is shown though it is the sixth pair
    assert "[bold]x[/bold]" in printed and "\x1b" not in printed and "\\x1b" in printed


def test_a_rank_rating_must_state_its_direction(tmp_path):
    rows = [{"prompt": "Q", "response": "first", "rank": 1}, {"prompt": "Q", "response": "second", "rank": 2}, {"prompt": "Q", "response": "third", "rank": 3}]
    path = write_jsonl(tmp_path / "ranked.jsonl", rows)
    for rating in (None, "rank"):
        with pytest.raises(TypicalityError, match="named like a rank.*--rating rank:lower"):
            load("ratings", data_files=path, rating=rating)
    lower = load("ratings", data_files=path, rating="rank:lower")
    text = lower.responses.set_index("response_id")["response"]
    # Rank 1 is best: "first" is preferred over both others, "second" over "third".
    assert sorted((text[a], text[b], label) for a, b, label in lower.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)) == [
        ("first", "second", 1.0), ("first", "third", 1.0), ("second", "third", 1.0),
    ]
    assert lower.preference == "lower rank rating (as rank_negated)" and lower.preference_rating == "rank_negated"
    higher = load("ratings", data_files=path, rating="rank:higher")
    assert higher.comparisons["label"].tolist() == [1.0 - x for x in lower.comparisons["label"]]
