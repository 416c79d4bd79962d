"""The stack-exchange-preferences loader on a parquet fixture in the hub's schema, and its HTML-to-text rule."""

from __future__ import annotations

import itertools

from tests.data.files import write_parquet
from typicality.data import load
from typicality.data.sources.stack_exchange import html_to_text
from typicality.domain import ANNOTATOR_COLUMN


def answer(answer_id, pm_score, text, selected=False):
    """One answer, field for field as the card lists them."""
    return {
        "answer_id": answer_id,
        "author": f"user{answer_id}",
        "author_id": answer_id * 10,
        "author_profile": f"https://stackoverflow.com/users/{answer_id * 10}",
        "pm_score": pm_score,
        "selected": selected,
        "text": text,
    }


def question(qid, html, answers):
    return {
        "qid": qid,
        "question": html,
        "answers": answers,
        "date": "2008/08/01",
        "metadata": [f"https://stackoverflow.com/questions/{qid}", "https://stackoverflow.com", f"https://stackoverflow.com/users/{qid}"],
    }


CODE_ANSWER = (
    "<p>Use a list comprehension:</p>\n\n<pre><code>squares = [x * x for x in range(3)]\nprint(squares)\n</code></pre>\n\n"
    "<p>It prints <code>[0, 1, 4]</code>.</p>\n"
)
ROWS = [
    question(1, "<p>How do I square numbers in Python?</p>\n", [
        answer(11, 5, CODE_ANSWER, selected=True),
        answer(12, 2, "<p>Use <code>map</code>.</p>\n"),
        answer(13, 2, "<p>Multiply each number by itself.</p>\n"),
    ]),
    question(2, "<p>What does <code>&lt;br&gt;</code> do?</p>\n", [
        answer(21, 0, "<p>Nothing.</p>\n"),
        answer(22, 3, "<p>It breaks a line &amp; starts the next.</p>\n"),
        answer(23, 1, "<p> </p>\n"),  # no text: dropped
    ]),
    question(3, "<p>Only one answer?</p>\n", [answer(31, 1, "<p>Yes.</p>\n")]),  # forms no pair
    question(4, "<p>Twice?</p>\n", [answer(41, 1, "<p>Same.</p>\n"), answer(42, 0, "<p>Same.</p>\n")]),  # repeated: one dropped
]  # fmt: skip


def test_answers_ranked_by_pm_score_within_their_question(tmp_path):
    data = load("stack-exchange-preferences", data_files=write_parquet(tmp_path / "train.parquet", ROWS))
    summary = data.summary()
    assert summary["n_rows"] == 4  # questions
    assert summary["dropped"] == {"empty response": 1, "response repeated under the same prompt": 1}
    assert summary["n_comparisons"] == 4 and summary["n_ties"] == 1
    assert data.kind == "rated" and data.preference_rating == "pm_score"

    # The labels, computed naively from the rows: every pair of kept answers under a question, higher pm_score preferred.
    kept = {1: ROWS[0]["answers"], 2: ROWS[1]["answers"][:2]}
    expected = {}
    for qid, answers in kept.items():
        for first, second in itertools.combinations(answers, 2):
            difference = first["pm_score"] - second["pm_score"]
            expected[(html_to_text(first["text"]), html_to_text(second["text"]))] = (1.0 if difference > 0 else 0.0 if difference < 0 else 0.5, qid)
    table = data.responses.set_index("response_id")
    got = {
        (table.loc[a, "response"], table.loc[b, "response"]): (label, qid)
        for a, b, label, qid in data.comparisons[["response_a", "response_b", "label", "qid"]].itertuples(index=False)
    }
    assert got == expected
    assert ANNOTATOR_COLUMN not in data.comparisons  # the judge is the voting crowd
    assert set(data.responses["prompt"]) >= {"How do I square numbers in Python?", "What does <br> do?"}
    assert f"{sum(len(row['answers']) for row in ROWS)} answers under 4 questions; the drops below count answers." in summary["notes"]
    assert "2 responses are alone under their prompt and form no pair." in summary["notes"]  # questions 3 and 4


def test_html_to_text_rule():
    assert html_to_text(CODE_ANSWER) == "Use a list comprehension:\n\nsquares = [x * x for x in range(3)]\nprint(squares)\n\nIt prints [0, 1, 4]."
    # Entities and character references decoded; whitespace outside <pre> collapsed; a code block's indentation kept.
    assert html_to_text("<p>a &lt; b &amp;&amp; c&#39;s\n   value</p>") == "a < b && c's value"
    assert html_to_text("<pre><code>def f():\n    return 1</code></pre>") == "def f():\n    return 1"
    # Paragraphs -> one blank line; <br> -> a new line; list items -> "- " lines; links keep their text, images leave nothing.
    html = '<p>One<br>two</p>\n<ul>\n<li>first</li>\n<li><a href="https://x">second</a></li>\n</ul>\n<p>See <img src="i.png" alt="pic"> <em>this</em>.</p>'
    assert html_to_text(html) == "One\ntwo\n\n- first\n- second\n\nSee this."
    assert html_to_text("<h2>Title</h2><blockquote><p>Quoted.</p></blockquote>") == "Title\n\nQuoted."
