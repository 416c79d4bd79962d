"""lmsys/mt_bench_human_judgments: MT-bench answers of six models judged in pairs by experts and by GPT-4.

Rows (both splits): `question_id, model_a, model_b, winner, judge, conversation_a,
conversation_b, turn`; each conversation is the model's whole two-turn MT-bench conversation
`[{role, content}, ...]`, whatever turn the row judges. Splits (`--split`): `human` (expert and
author votes, `judge` like `expert_12` or `author_3`; the default) and `gpt4_pair` (GPT-4's
pairwise verdicts on the same answers). Label from `winner`: model_a -> 1, model_b -> 0, `tie`
and `tie (inconsistent)` (GPT-4 named a different winner when the two answers were swapped)
-> 0.5; `winner` itself stays as pair metadata, so the two kinds of tie stay apart.

The judged response is the model's answer to user turn `turn`; the prompt is the conversation up
to that question, rendered by `typicality.data.render` (turn 1: the question verbatim). As in
the `chatbot-arena` loader, a pair must share every earlier turn: in a turn-2 judgement each
model wrote its own first answer, so the two second answers follow different conversations and
the row is dropped and counted ("earlier turns differ between the two conversations"). Two
different models practically never wrote the same first answer, so this drops the turn-2
judgements and keeps the turn-1 judgements.

Pair orientation: response_a is always the answer of the model whose name sorts first
(model_a/model_b are swapped, and the label flipped, where the source listed them the other way;
`order_swapped` says where). So a question, model pair and turn gives the same prompt id,
response ids and orientation in both splits, and in every judge's row, and the human and GPT-4
labels of one pair can be joined. `judge` is the annotator (`typicality.domain.ANNOTATOR_COLUMN`);
several judges of one pair are several comparisons, not duplicates. Pair metadata: `question_id`,
`model_a`, `model_b`, `turn`, `winner` (in that orientation), `order_swapped`, annotator.
"""

from __future__ import annotations

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.render import is_conversation, split_conversation_pair
from typicality.data.request import LoadRequest
from typicality.domain import ANNOTATOR_COLUMN, Accounting, PreferenceData
from typicality.errors import TypicalityError

HUB_ID = "lmsys/mt_bench_human_judgments"
SPLITS = ("human", "gpt4_pair")
WINNER_LABELS = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (inconsistent)": 0.5}
SWAPPED_WINNER = {"model_a": "model_b", "model_b": "model_a"}
REQUIRED = ["question_id", "model_a", "model_b", "winner", "judge", "conversation_a", "conversation_b", "turn"]
NO_SUCH_TURN = "conversation has no answer to the judged turn"


def conversation_through_turn(messages, turn) -> list[dict] | None:
    """The messages up to and including the assistant's answer to user turn `turn` (1-based); None when it has none."""
    if not is_conversation(messages) or isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
        return None
    user_turns = 0
    for index, message in enumerate(messages):
        role = message["role"].lower()
        if role == "user":
            user_turns += 1
        elif role == "assistant" and user_turns == turn:
            return list(messages[: index + 1])
    return None


def load_mt_bench_human(request: LoadRequest) -> PreferenceData:
    split = request.split or "human"
    if split not in SPLITS:
        raise TypicalityError(f"mt-bench-human has no split '{split}'. Its splits: {', '.join(SPLITS)} (--split).")
    rows, provenance = read_rows(request, HUB_ID, REQUIRED, split)
    accounting = Accounting(rows_read=len(rows))
    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {column: [] for column in ("question_id", "model_a", "model_b", "turn", "winner", "order_swapped", ANNOTATOR_COLUMN)}
    for row in rows.select_columns(REQUIRED):
        label = WINNER_LABELS.get(row["winner"])
        if label is None:
            accounting.drop("winner not model_a, model_b, tie or tie (inconsistent)")
            continue
        conversation_a, conversation_b = row["conversation_a"], row["conversation_b"]
        model_a, model_b, winner = row["model_a"], row["model_b"], row["winner"]
        # One orientation for every judge and split: the model whose name sorts first is response_a.
        swapped = isinstance(model_a, str) and isinstance(model_b, str) and model_b < model_a
        if swapped:
            conversation_a, conversation_b, model_a, model_b = conversation_b, conversation_a, model_b, model_a
            label, winner = 1.0 - label, SWAPPED_WINNER.get(winner, winner)
        if is_conversation(conversation_a) and is_conversation(conversation_b):
            conversation_a = conversation_through_turn(conversation_a, row["turn"])
            conversation_b = conversation_through_turn(conversation_b, row["turn"])
            if conversation_a is None or conversation_b is None:
                accounting.drop(NO_SUCH_TURN)
                continue
        texts = split_conversation_pair(conversation_a, conversation_b, accounting)  # counts malformed and differing histories
        if texts is None:
            continue
        prompts.append(texts[0])
        responses_a.append(texts[1])
        responses_b.append(texts[2])
        labels.append(label)
        values = (row["question_id"], model_a, model_b, row["turn"], winner, swapped, row["judge"])
        for column, value in zip(metadata, values):
            metadata[column].append(value)
    return from_pairs(
        "mt-bench-human",
        prompts,
        responses_a,
        responses_b,
        labels,
        accounting,
        pair_metadata=metadata,
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
        preference="winner (response_a = the model whose name sorts first; ties 0.5)",
    )
