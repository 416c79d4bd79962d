"""The HelpSteer3 preference loader on a fixture in the hub's JSON-lines schema."""

from __future__ import annotations

from tests.data.files import assistant, user, write_jsonl
from typicality.data import load
from typicality.data.sources.helpsteer3 import NO_USER_TURN, NOT_A_SCORE
from typicality.domain import ANNOTATOR_COLUMN


def row(domain, language, context, response1, response2, overall, individual):
    """One row of the preference subset, field for field as the card lists them."""
    return {
        "domain": domain,
        "language": language,
        "context": context,
        "response1": response1,
        "response2": response2,
        "overall_preference": overall,
        "individual_preference": [{"score": score, "reasoning": f"@Response {1 if score < 0 else 2} is better."} for score in individual],
    }


ROWS = [
    row("general", "english", [user("Name a color.")], "Blue.", "I cannot help with that.", -2, [-2, -1, -3]),
    row("code", "python", [user("Write hello world."), assistant("In which language?"), user("Python.")], "print('hi')", "print('hello world')", 2, [2, 1]),
    row("stem", "english", [user("What is 7*8?")], "56", "Fifty-six.", 0, [0, 1, -1]),
    row("multilingual", "chinese", [user("你好")], "你好！", "Hello!", 3, [3, 3, 2]),
    row("general", "english", [user("Hi")], "Hello.", "Hey.", None, []),  # no overall preference
    row("general", "english", [user("Hi"), assistant("Hello.")], "Hey.", "Yo.", -1, [-1]),  # ends with the assistant
    row("general", "english", [user("Say something.")], "Something.", "", 1, [1]),  # empty response2
]


def test_overall_preference_sign_ties_and_metadata(tmp_path):
    data = load("helpsteer3", data_files=write_jsonl(tmp_path / "train.jsonl", ROWS))
    summary = data.summary()
    assert summary["n_rows"] == 7
    assert summary["dropped"] == {NOT_A_SCORE: 1, NO_USER_TURN: 1, "empty response": 1}
    # The card: -3 = Response 1 much better ... 3 = Response 2 much better; response1 is a.
    text = data.responses.set_index("response_id")["response"]
    pairs = [(text[a], text[b], label) for a, b, label in data.comparisons[["response_a", "response_b", "label"]].itertuples(index=False)]
    assert pairs == [
        ("Blue.", "I cannot help with that.", 1.0),  # -2: response1 better
        ("print('hi')", "print('hello world')", 0.0),  # 2: response2 better
        ("56", "Fifty-six.", 0.5),  # 0: about the same
        ("你好！", "Hello!", 0.0),  # 3: response2 much better
    ]
    assert summary["n_ties"] == 1
    comparisons = data.comparisons
    assert comparisons["domain"].tolist() == ["general", "code", "stem", "multilingual"]
    assert comparisons["language"].tolist() == ["english", "python", "english", "chinese"]
    assert comparisons["overall_preference"].tolist() == [-2, 2, 0, 3]
    assert comparisons["individual_scores"].tolist() == ["-2,-1,-3", "2,1", "0,1,-1", "3,3,2"]
    assert comparisons["n_individual"].tolist() == [3, 2, 3, 3]
    assert ANNOTATOR_COLUMN not in comparisons  # the individual annotators are not identified
    prompts = data.responses.drop_duplicates("prompt_id")["prompt"].tolist()
    assert prompts[1] == "\n\nHuman: Write hello world.\n\nAssistant: In which language?\n\nHuman: Python.\n\nAssistant:"
    assert prompts[0] == "Name a color." and prompts[3] == "你好"
