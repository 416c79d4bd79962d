"""HuggingFaceH4/stack-exchange-preferences: Stack Exchange questions with their answers, scored by votes.

Rows (parquet): `qid, question, answers, date, metadata`, one per question; `answers` is a list
of `{answer_id, author, author_id, author_profile, pm_score, selected, text}`. `pm_score` is the
card's preference-model score, log2(1 + upvotes) rounded, plus 1 for the accepted answer (-1
when the votes are negative). A rated source: every pair of answers under one question, the
one with the higher `pm_score` preferred, equal scores a tie (0.5), as `from_ratings` builds
them for every rated source. The judge is the voting crowd, not the answers' authors, so there
is no annotator column. `qid` and `date` are pair metadata. `--subset SITE` reads the hub's
`data/SITE` folder only (the whole hub dataset is about 22 GB).

`question` and each answer's `text` are HTML; `html_to_text` turns them into the plain text a
reader sees, by this rule:
- tags are removed and their text kept (link text, inline `<code>`), character references and
  entities decoded (`&lt;` -> `<`, `&amp;` -> `&`, `&#39;` -> `'`); `<img>` leaves nothing;
- the text of `<pre>` blocks (code) is kept verbatim, whitespace and line breaks included;
  everywhere else each run of whitespace becomes one space, as a browser renders it;
- paragraphs and other blocks (p, div, pre, blockquote, ul, ol, table, h1-h6, hr) are
  separated by one blank line; `<br>` and `<tr>` start a new line, and `<li>` a new line
  beginning "- ";
- spaces at the start or end of a line outside `<pre>` are dropped, and the whole text is stripped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd

from typicality.data.build import from_ratings
from typicality.data.reading import read_rows
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData

HUB_ID = "HuggingFaceH4/stack-exchange-preferences"
RATINGS = ("pm_score",)
BLOCK_TAGS = {"p", "div", "pre", "blockquote", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "dl"}
LINE_TAGS = {"br", "li", "tr", "dt", "dd"}
WHITESPACE = re.compile(r"\s+")
NO_ANSWERS = "answers is not a list of answers"


class _PlainText(HTMLParser):
    """Collects the text of an HTML fragment by the rule in the module docstring."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.newlines_owed = 0  # line breaks due before the next text
        self.pre_depth = 0
        self.bullet = False
        self.last_in_pre = False  # whether the last text came from a <pre> block (kept verbatim)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in BLOCK_TAGS:
            self.newlines_owed = 2
        elif tag in LINE_TAGS:
            self.newlines_owed = max(self.newlines_owed, 1)
            self.bullet = tag == "li"
        if tag == "pre":
            self.pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        if tag in BLOCK_TAGS:
            self.newlines_owed = 2

    def handle_data(self, data: str) -> None:
        text = data if self.pre_depth else WHITESPACE.sub(" ", data)
        line_start = self.newlines_owed > 0 or not self.parts or self.parts[-1].endswith("\n")
        if not self.pre_depth and (line_start or self.parts[-1].endswith(" ")):
            text = text.lstrip(" ")
        if not text:
            return
        if self.parts and self.newlines_owed:
            if not self.last_in_pre:  # a line does not end with the space that stood between two tags
                self.parts[-1] = self.parts[-1].rstrip(" ")
            already = len(self.parts[-1]) - len(self.parts[-1].rstrip("\n"))  # a code block may end with its own newline
            self.parts.append("\n" * max(0, self.newlines_owed - already))
        self.newlines_owed = 0
        if self.bullet:
            text, self.bullet = "- " + text, False
        self.parts.append(text)
        self.last_in_pre = self.pre_depth > 0

    def text(self) -> str:
        return "".join(self.parts).strip()


def html_to_text(html: str) -> str:
    """The plain text of a Stack Exchange HTML body (rule in the module docstring)."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return parser.text()


def rated_answers(rows, accounting: Accounting) -> pd.DataFrame:
    """One row per answer: prompt (the question as text), response (the answer as text), pm_score, qid, date."""
    records = []
    for row in rows:
        answers = row["answers"]
        if not isinstance(answers, list):
            accounting.drop(NO_ANSWERS)
            continue
        question = html_to_text(row["question"]) if isinstance(row["question"], str) else None
        for answer in answers:
            text = answer.get("text") if isinstance(answer, dict) else None
            records.append(
                {
                    "prompt": question,
                    "response": html_to_text(text) if isinstance(text, str) else None,
                    "pm_score": answer.get("pm_score") if isinstance(answer, dict) else None,
                    "qid": row.get("qid"),
                    "date": row.get("date"),
                }
            )
    accounting.notes.append(f"{len(records)} answers under {len(rows)} questions; the drops below count answers.")
    return pd.DataFrame(records, columns=["prompt", "response", "pm_score", "qid", "date"])


def load_stack_exchange_preferences(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    hub_kwargs = {"data_dir": f"data/{request.subset}"} if request.subset else {}
    rows, provenance = read_rows(request, HUB_ID, ["question", "answers"], split, hub_kwargs)
    accounting = Accounting(rows_read=len(rows))
    present = [column for column in ("qid", "date") if column in rows.column_names]
    rated = rated_answers(rows.select_columns(["question", "answers", *present]), accounting)
    return from_ratings(
        "stack-exchange-preferences",
        rated,
        "pm_score",
        list(RATINGS),
        accounting,
        prompt_metadata=present,
        subset=request.subset,
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
    )
