"""lmsys/chatbot_arena_conversations: one user chats with two anonymous models and votes.

Rows: `question_id, model_a, model_b, winner, judge, conversation_a, conversation_b, turn,
anony, language, tstamp, openai_moderation, toxic_chat_tag`; each conversation is a message
list `[{role, content}, ...]`. Label from `winner`: model_a -> 1, model_b -> 0, tie and
tie (bothbad) -> 0.5; `winner` itself stays as pair metadata (it tells the two tie kinds
apart), with `model_a`, `model_b`, `language` and `turn`; `judge` (the voting user's id) is
the annotator (`typicality.domain.ANNOTATOR_COLUMN`).

Multi-turn conversations: the judged responses are the two last assistant turns; the prompt
is every turn before them, rendered by `typicality.data.render.render_prompt` (one user turn
verbatim, more as a `\\n\\nHuman: ... \\n\\nAssistant:` transcript). In the arena each model
answered the earlier turns itself, so in almost every multi-turn battle the earlier assistant
turns differ between a and b: the two last responses then answer different prompts and the
vote judged whole conversations, not one reply. Such battles are dropped and counted
("earlier turns differ between the two conversations"); multi-turn battles whose earlier turns
are identical are kept. Single-turn battles (most of the data) are unaffected.
"""

from __future__ import annotations

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.render import split_conversation_pair
from typicality.data.request import LoadRequest
from typicality.domain import ANNOTATOR_COLUMN, Accounting, PreferenceData

HUB_ID = "lmsys/chatbot_arena_conversations"
WINNER_LABELS = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
METADATA = ("winner", "model_a", "model_b", "language", "turn")


def load_chatbot_arena(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    rows, provenance = read_rows(request, HUB_ID, ["winner", "conversation_a", "conversation_b"], split)
    accounting = Accounting(rows_read=len(rows))
    present = [column for column in METADATA if column in rows.column_names]
    has_judge = "judge" in rows.column_names
    # Only the needed columns: the moderation structs make full rows slow to decode.
    rows = rows.select_columns(["winner", "conversation_a", "conversation_b", *[c for c in present if c != "winner"], *(["judge"] if has_judge else [])])
    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {column: [] for column in present + ([ANNOTATOR_COLUMN] if has_judge else [])}
    for row in rows:
        label = WINNER_LABELS.get(row["winner"])
        if label is None:
            accounting.drop("winner not model_a, model_b, tie or tie (bothbad)")
            continue
        texts = split_conversation_pair(row["conversation_a"], row["conversation_b"], accounting)
        if texts is None:
            continue
        prompts.append(texts[0])
        responses_a.append(texts[1])
        responses_b.append(texts[2])
        labels.append(label)
        for column in present:
            metadata[column].append(row[column])
        if has_judge:
            metadata[ANNOTATOR_COLUMN].append(row["judge"])
    return from_pairs(
        "chatbot-arena",
        prompts,
        responses_a,
        responses_b,
        labels,
        accounting,
        pair_metadata=metadata,
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
        preference="winner (ties 0.5)",
    )
