"""nvidia/HelpSteer3, the preference subset: two responses to a conversation, one overall preference score.

Rows (JSON lines, config `preference`, splits train and validation): `domain, language,
context, response1, response2, overall_preference, individual_preference`. `context` is the
conversation so far, a message list `[{role, content}]` ending with a user turn, rendered by
`typicality.data.render.render_prompt` (one user turn verbatim, more as a transcript).

`overall_preference` is an integer from -3 to 3; the card: -3 "Response 1 is much better than
Response 2", 0 "about the same", 3 "Response 2 is much better than Response 1". So response1
is response_a and the label is 1 when the score is negative, 0 when positive, 0.5 (tie) at 0.
Any other value is dropped and counted. `individual_preference` holds the scores (and 1-2
sentence reasons) of up to three annotators, who are not identified, so there is no annotator
column: their scores are kept as `individual_scores` ("-2,-1,-3", in the file's order) with
`n_individual`; the reasons are not kept. `domain` (general, stem, code, multilingual),
`language` and `overall_preference` are pair metadata too.
"""

from __future__ import annotations

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.render import MALFORMED, is_conversation, render_prompt
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData

HUB_ID = "nvidia/HelpSteer3"
CONFIG = "preference"
SCORES = range(-3, 4)
NOT_A_SCORE = "overall_preference not an integer from -3 to 3"
NO_USER_TURN = "context does not end with a user turn"


def preference_label(score: int) -> float:
    """The label of an overall_preference score: negative = response1 (a) preferred -> 1, positive -> 0, 0 -> 0.5."""
    return 1.0 if score < 0 else 0.0 if score > 0 else 0.5


def load_helpsteer3(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    columns = ["context", "response1", "response2", "overall_preference"]
    rows, provenance = read_rows(request, HUB_ID, columns, split, {"name": CONFIG})
    accounting = Accounting(rows_read=len(rows))
    present = [column for column in ("domain", "language", "individual_preference") if column in rows.column_names]
    rows = rows.select_columns(columns + present)
    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {name: [] for name in ("domain", "language") if name in present}
    metadata["overall_preference"] = []
    if "individual_preference" in present:
        metadata["individual_scores"], metadata["n_individual"] = [], []
    for row in rows:
        score = _whole_number(row["overall_preference"])
        if score not in SCORES:
            accounting.drop(NOT_A_SCORE)
            continue
        context = row["context"]
        if not is_conversation(context):
            accounting.drop(MALFORMED)
            continue
        if context[-1]["role"].lower() not in ("user", "human"):
            accounting.drop(NO_USER_TURN)
            continue
        prompts.append(render_prompt(context))
        responses_a.append(row["response1"])
        responses_b.append(row["response2"])
        labels.append(preference_label(score))
        for column in ("domain", "language"):
            if column in metadata:
                metadata[column].append(row[column])
        metadata["overall_preference"].append(score)
        if "individual_scores" in metadata:
            scores = [entry.get("score") for entry in row["individual_preference"] or [] if isinstance(entry, dict)]
            metadata["individual_scores"].append(",".join(str(s) for s in scores))
            metadata["n_individual"].append(len(scores))
    return from_pairs(
        "helpsteer3",
        prompts,
        responses_a,
        responses_b,
        labels,
        accounting,
        pair_metadata=metadata,
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
        preference="overall_preference (negative = response1 preferred, 0 = tie)",
    )


def _whole_number(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or int(value) != value:
        return None
    return int(value)
