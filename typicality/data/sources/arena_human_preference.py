"""lmarena-ai/arena-human-preference-55k, -100k and -140k: Chatbot Arena votes in the three layouts released.

55k (`train.csv`): `id, model_a, model_b, prompt, response_a, response_b, winner_model_a,
winner_model_b, winner_tie`. `prompt` and each response are JSON-encoded lists of turns (one
string per turn; `response_a[i]` answers `prompt[i]`); the winner is one-hot over three
columns. A row whose three winner columns are not exactly one 1 and two 0s is dropped and
counted; otherwise model_a -> 1, model_b -> 0, tie -> 0.5.

100k (parquet): `question_id, model_a, model_b, winner, judge_hash, conversation_a,
conversation_b, turn, anony, language, tstamp, conv_metadata, ...`, conversations as message
lists `[{role, content}]`. 140k (parquet): `id, model_a, model_b, winner,
evaluation_session_id, evaluation_order, conversation_a, conversation_b, full_conversation,
conv_metadata, category_tag, language, is_code, timestamp`, each message's `content` a list
of parts `[{type, text, image, mimeType}]` (a message's text parts are joined by a newline;
a message with an image part is dropped and counted). `winner` is model_a -> 1, model_b -> 0,
tie, tie (bothbad) and both_bad -> 0.5. The layout is recognised from the columns, and
`--subset 55k|100k|140k` picks the hub release (default 55k); the data records the layout it
read as its subset.

Every layout becomes two message lists, and multi-turn battles are handled as the
`chatbot-arena` loader handles them (`typicality.data.render.split_conversation_pair`): each
model answered the earlier turns itself, so a battle is kept only when its earlier turns are
identical on both sides; the others are dropped and counted ("earlier turns differ between the
two conversations"), and a note says how many battles were multi-turn. In the 140k layout a
vote after the first in an evaluation session (`evaluation_order` > 1) continues a conversation
whose earlier turns, answered by other models, are not in `conversation_a`/`conversation_b`
(only in `full_conversation`, and which side's answers the new models saw is not recorded): such
votes are dropped and counted rather than scored after a prompt the models did not see.

An unpaired surrogate escape left by JSON decoding (half of an emoji cut in the 55k file) is
invalid Unicode no tokenizer accepts; it is replaced by U+FFFD, the replacement character a
browser shows in its place, and a note counts the turns so repaired.

A JSON `null` turn (the 55k layout has some inside response lists, where a model's reply was
not recorded) is dropped and counted, not rendered as an empty turn: the voter saw something
there that the file does not hold, so any text put in its place would be scored as if the
voter had judged it; and as a last turn an empty reply is not a response to score either.

Pair metadata: `winner` (derived from the one-hot columns in the 55k layout), `model_a`,
`model_b`, `turn` (user turns), `language` and `evaluation_order` where the layout has them, and
the vote's id. The 100k layout's `judge_hash` (the voter) is the annotator column.
"""

from __future__ import annotations

import json
import re

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.render import split_conversation_pair
from typicality.data.request import LoadRequest
from typicality.domain import ANNOTATOR_COLUMN, Accounting, PreferenceData
from typicality.errors import TypicalityError

HUB_ID = "lmarena-ai/arena-human-preference-55k"
HUB_IDS = {"55k": HUB_ID, "100k": "lmarena-ai/arena-human-preference-100k", "140k": "lmarena-ai/arena-human-preference-140k"}
ONE_HOT_COLUMNS = ("prompt", "response_a", "response_b", "winner_model_a", "winner_model_b", "winner_tie")
CONVERSATION_COLUMNS = ("winner", "conversation_a", "conversation_b")
WINNER_LABELS = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5, "both_bad": 0.5}
ONE_HOT_WINNERS = ("model_a", "model_b", "tie")  # the winner each one-hot column stands for, in column order
# Source columns kept as pair metadata when present (the annotator is added separately).
KEPT_COLUMNS = ("id", "question_id", "model_a", "model_b", "language", "evaluation_order")
ANNOTATOR_SOURCES = ("judge_hash", "judge")
# A surrogate code point left after JSON decoding is unpaired (paired escapes decode to one
# character): invalid Unicode that no encoder or tokenizer accepts, e.g. half of a cut emoji.
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")

NOT_ONE_HOT = "winner_model_a, winner_model_b, winner_tie not exactly one 1"
NOT_JSON_TURNS = "prompt or response is not a JSON list of turns"
UNEQUAL_TURNS = "prompt and response lists have different numbers of turns"
NULL_TURN = "a turn is null (not recorded)"
UNKNOWN_WINNER = "winner not model_a, model_b, tie, tie (bothbad) or both_bad"
NON_TEXT = "a message has non-text content (an image)"
LATER_VOTE = "a later vote in its session (evaluation_order > 1): earlier turns not in the conversations"


def load_arena_human_preference(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    hub_id = HUB_IDS[request.subset or "55k"]  # LoadRequest refused other subsets
    rows, provenance = read_rows(request, hub_id, [], split)
    where = ", ".join(request.data_files) or hub_id
    layout = _layout(rows.column_names, where)
    accounting = Accounting(rows_read=len(rows))
    kept = [column for column in KEPT_COLUMNS if column in rows.column_names]
    annotator = next((column for column in ANNOTATOR_SOURCES if column in rows.column_names), None)
    needed = ONE_HOT_COLUMNS if layout == "55k" else CONVERSATION_COLUMNS
    # Only the needed columns: the metadata structs (conv_metadata, category_tag) make full rows slow to decode.
    rows = rows.select_columns(list(dict.fromkeys([*needed, *kept, *([annotator] if annotator else [])])))

    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {name: [] for name in ("winner", *kept, "turn", *([ANNOTATOR_COLUMN] if annotator else []))}
    multi_turn = multi_turn_kept = 0
    repaired = [0]  # turns whose unpaired surrogates were replaced
    for row in rows:
        parsed = _one_hot_row(row, accounting, repaired) if layout == "55k" else _conversation_row(row, accounting)
        if parsed is None:
            continue
        winner, label, messages_a, messages_b = parsed
        turns = sum(message["role"] == "user" for message in messages_a)
        multi_turn += turns > 1
        texts = split_conversation_pair(messages_a, messages_b, accounting)
        if texts is None:
            continue
        multi_turn_kept += turns > 1
        prompts.append(texts[0])
        responses_a.append(texts[1])
        responses_b.append(texts[2])
        labels.append(label)
        metadata["winner"].append(winner)
        for column in kept:
            metadata[column].append(row[column])
        metadata["turn"].append(turns)
        if annotator:
            metadata[ANNOTATOR_COLUMN].append(None if row[annotator] is None else str(row[annotator]))
    accounting.notes.append(f"{multi_turn} battles are multi-turn; {multi_turn_kept} of them kept (earlier turns identical on both sides).")
    if repaired[0]:
        accounting.notes.append(f"{repaired[0]} turns held unpaired surrogates (invalid Unicode, e.g. a cut emoji), each replaced by U+FFFD.")
    return from_pairs(
        "arena-human-preference",
        prompts,
        responses_a,
        responses_b,
        labels,
        accounting,
        pair_metadata=metadata,
        subset=layout,
        split=split,
        source=where,
        provenance=provenance,
        preference="winner (model_a 1, model_b 0, ties 0.5)",
    )


def _layout(columns: list[str], where: str) -> str:
    """The release whose layout the columns are: 55k (one-hot winners, JSON turns), 140k (evaluation_order), else 100k."""
    if all(column in columns for column in ONE_HOT_COLUMNS):
        return "55k"
    if all(column in columns for column in CONVERSATION_COLUMNS):
        return "140k" if "evaluation_order" in columns else "100k"
    raise TypicalityError(
        f"{where}: not an arena-human-preference layout. Expected the 55k columns ({', '.join(ONE_HOT_COLUMNS)}) or the "
        f"100k/140k columns ({', '.join(CONVERSATION_COLUMNS)}); found {', '.join(columns)}. Map other names with --columns new=old."
    )


def _one_hot_row(row: dict, accounting: Accounting, repaired: list[int]) -> tuple[str, float, list[dict], list[dict]] | None:
    """(winner, label, messages_a, messages_b) of a 55k row, or None with the reason counted; `repaired[0]` counts repaired turns."""
    flags = [_zero_or_one(row[column]) for column in ONE_HOT_COLUMNS[3:]]
    if None in flags or sum(flags) != 1:
        accounting.drop(NOT_ONE_HOT)
        return None
    winner = ONE_HOT_WINNERS[flags.index(1)]
    turn_lists = [_json_turns(row[column]) for column in ONE_HOT_COLUMNS[:3]]
    if any(turns is None for turns in turn_lists):
        accounting.drop(NOT_JSON_TURNS)
        return None
    prompt, answers_a, answers_b = turn_lists
    if not len(prompt) == len(answers_a) == len(answers_b):
        accounting.drop(UNEQUAL_TURNS)
        return None
    if any(turn is None for turns in turn_lists for turn in turns):
        accounting.drop(NULL_TURN)
        return None
    for turns in turn_lists:
        for index, turn in enumerate(turns):
            if LONE_SURROGATE.search(turn):
                turns[index] = LONE_SURROGATE.sub("\ufffd", turn)
                repaired[0] += 1

    def conversation(answers: list[str]) -> list[dict]:
        messages = []
        for question, answer in zip(prompt, answers):
            messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return messages

    return winner, WINNER_LABELS[winner], conversation(answers_a), conversation(answers_b)


def _conversation_row(row: dict, accounting: Accounting) -> tuple[str, float, list, list] | None:
    """(winner, label, messages_a, messages_b) of a 100k or 140k row, or None with the reason counted."""
    label = WINNER_LABELS.get(row["winner"])
    if label is None:
        accounting.drop(UNKNOWN_WINNER)
        return None
    order = row.get("evaluation_order")
    if order is not None and order > 1:
        accounting.drop(LATER_VOTE)
        return None
    messages = []
    for conversation in (row["conversation_a"], row["conversation_b"]):
        if not isinstance(conversation, list):
            messages.append(conversation)  # malformed: split_conversation_pair counts it
            continue
        plain = [_plain_message(message) for message in conversation]
        if any(message is NON_TEXT for message in plain):
            accounting.drop(NON_TEXT)
            return None
        if any(isinstance(message, dict) and message.get("content") is None for message in plain):
            accounting.drop(NULL_TURN)
            return None
        messages.append(plain)
    return row["winner"], label, messages[0], messages[1]


def _plain_message(message):
    """{role, content: text} of a message whose content is a string or a list of text parts; NON_TEXT for an image part."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message  # a string content (100k), or malformed (counted by split_conversation_pair)
    parts = message["content"]
    if any(not isinstance(part, dict) or part.get("type") != "text" or part.get("image") for part in parts):
        return NON_TEXT
    texts = [part.get("text") for part in parts]
    content = None if any(text is None for text in texts) else "\n".join(texts)
    return {"role": message.get("role"), "content": content}


def _zero_or_one(value) -> int | None:
    """0 or 1 from an int, bool or float flag (a CSV may hold 1.0); None for anything else."""
    if isinstance(value, (bool, int, float)) and value in (0, 1):
        return int(value)
    return None


def _json_turns(text) -> list | None:
    """The turns of a JSON-encoded list of strings (JSON null allowed as a turn); None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        turns = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(turns, list) or not turns or not all(turn is None or isinstance(turn, str) for turn in turns):
        return None
    return turns
