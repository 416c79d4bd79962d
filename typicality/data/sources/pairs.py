"""Generic judged pairs from any local or Hub file (`--data-files`, hf://datasets/... for the Hub).

Two layouts, other names mapped with `--columns new=old,...`:
- `prompt, chosen, rejected`: chosen preferred (label 1);
- `prompt, response_a, response_b, label`: label 1 = a preferred, 0 = b preferred, 0.5 = tie.
  Any other preference column is read only as `--label` states it, in the data's own terms
  (`typicality.data.label_spec`: the index or name of the preferred response, or one-hot
  winner columns); a column named like an index or a flag mapped to `label` is refused.
Responses may be plain text, or message lists `[{role, content}, ...]` ending with the judged
assistant turn (as in many Hub preference sets); then prompt and responses come from the lists
through `typicality.data.render` and a `prompt` column is not needed. A plain-text prompt is
kept verbatim; a message-list prompt is rendered by `render_prompt`. Text columns holding
JSON-encoded turn lists (`typicality.data.encoded_turns`) are decoded: a prompt of user turns
with one answer per turn in each response (lmarena's layout) becomes two conversations, judged
on their last answers (multi-turn battles whose earlier answers differ are dropped and counted,
as in the `chatbot-arena` loader). Every other column of scalar values (text, numbers) is kept
as pair metadata, e.g. for slices by domain.
"""

from __future__ import annotations

import datasets

from typicality.data.build import from_pairs, parse_labels
from typicality.data.encoded_turns import TURNS_DO_NOT_LINE_UP, conversation, decode_column, is_encoded_column, is_message_list, repaired_note
from typicality.data.label_spec import LabelSpec, parse_label_spec, refuse_misread_label
from typicality.data.reading import read_rows
from typicality.data.render import MALFORMED, is_conversation, render_prompt, split_conversation_pair
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData
from typicality.errors import TypicalityError

LAYOUTS = (("chosen", "rejected"), ("response_a", "response_b", "label"))
# A prompt of several user turns next to plain-text responses: the answers between the turns are missing.
TURNS_WITHOUT_ANSWERS = "prompt is several turns but the responses are single texts"


def scalar_columns(rows: datasets.Dataset, exclude: set[str]) -> list[str]:
    """Columns holding one text, number or flag per row (kept as metadata), in file order."""
    return [name for name, feature in rows.features.items() if name not in exclude and isinstance(feature, datasets.Value)]


def load_pairs(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    rows, provenance = read_rows(request, None, [], split)
    where = ", ".join(request.data_files)
    spec = _label_spec(request, rows, where)
    layout = _layout(rows, spec, where)
    columns = {column: list(rows[column]) for column in ("prompt", *layout[:2]) if column in rows.column_names}
    repaired = 0
    for column, values in columns.items():  # JSON-encoded turn lists are decoded (or refused), never scored as bracketed text
        if is_encoded_column(values[:100]):
            columns[column], count = decode_column(values, column, where)
            repaired += count
    first = next((value for value in columns[layout[0]][:100] if value is not None), None)
    if not is_message_list(first) and "prompt" not in columns:
        raise TypicalityError(
            f"{where}: missing column prompt (needed when responses are plain text). Expected prompt, "
            f"{', '.join(layout)}; found {', '.join(rows.column_names)}. Map other names with --columns new=old."
        )
    accounting = Accounting(rows_read=len(rows))
    if repaired:
        accounting.notes.append(repaired_note(repaired))
    if spec is not None:
        labels_in = spec.labels({column: rows[column] for column in spec.columns}, where)
    elif len(layout) == 3:
        labels_in = parse_labels(rows["label"], where)
    else:
        labels_in = [1.0] * len(rows)
    used = {"prompt", "label", *layout, *(spec.columns if spec is not None else ())}
    metadata_columns = scalar_columns(rows, used)
    metadata_values = {column: rows[column] for column in metadata_columns}
    prompts_in = columns.get("prompt", [None] * len(rows))
    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {column: [] for column in metadata_columns}
    for index, (prompt, text_a, text_b) in enumerate(zip(prompts_in, columns[layout[0]], columns[layout[1]])):
        texts = _texts(prompt, text_a, text_b, accounting)
        if texts is None:
            continue
        prompts.append(texts[0])
        responses_a.append(texts[1])
        responses_b.append(texts[2])
        labels.append(labels_in[index])
        for column in metadata_columns:
            metadata[column].append(metadata_values[column][index])
    if spec is not None:
        preference = spec.describe()
    else:
        preference = "chosen over rejected" if len(layout) == 2 else "label (1 = response_a preferred)"
    return from_pairs(
        "pairs",
        prompts,
        responses_a,
        responses_b,
        labels,
        accounting,
        pair_metadata=metadata,
        split=request.split,
        source=where,
        provenance=provenance,
        preference=preference,
    )


def _label_spec(request: LoadRequest, rows: datasets.Dataset, where: str) -> LabelSpec | None:
    """The stated meaning of the preference (--label), its columns checked; None for the default layouts."""
    if request.label is None:
        if "label" in request.columns and {"response_a", "response_b"} <= set(rows.column_names):
            refuse_misread_label(request.columns["label"], where)
        return None
    spec = parse_label_spec(request.label)
    renamed = {old: new for new, old in request.columns.items()}
    columns = [renamed.get(column, column) if column not in rows.column_names else column for column in spec.columns]
    missing = [column for column in columns if column not in rows.column_names]
    if missing:
        raise TypicalityError(f"{where}: --label names column(s) {', '.join(missing)}, which the file lacks; found {', '.join(rows.column_names)}.")
    if spec.column is not None:
        return LabelSpec(column=columns[0], values=spec.values)
    return LabelSpec(flags=tuple((side, column) for (side, _), column in zip(spec.flags, columns)))


def _layout(rows: datasets.Dataset, spec: LabelSpec | None, where: str) -> tuple[str, ...]:
    names = set(rows.column_names)
    if spec is not None:
        if not {"response_a", "response_b"} <= names:
            raise TypicalityError(
                f"{where}: --label states which of response_a and response_b is preferred, but the file has no columns response_a, response_b "
                f"(found {', '.join(rows.column_names)}). Map them with --columns response_a=COLUMN,response_b=COLUMN."
            )
        return ("response_a", "response_b")
    layout = next((columns for columns in LAYOUTS if set(columns) <= names), None)
    if layout is None:
        raise TypicalityError(
            f"{where}: expected columns prompt, chosen, rejected or prompt, response_a, response_b, label; "
            f"found {', '.join(rows.column_names)}. Map other names with --columns new=old, and state another preference column with --label."
        )
    return layout


def _texts(prompt, text_a, text_b, accounting: Accounting) -> tuple[str, str, str] | None:
    """(prompt, response_a, response_b) of one row, or None with the reason counted."""
    if is_message_list(text_a) or is_message_list(text_b):  # two message lists ending with the judged turns
        return split_conversation_pair(text_a, text_b, accounting)
    if isinstance(text_a, list) or isinstance(text_b, list):  # decoded answers, one per user turn of the prompt
        messages_a, messages_b = conversation(prompt, text_a), conversation(prompt, text_b)
        if messages_a is None or messages_b is None:
            accounting.drop(TURNS_DO_NOT_LINE_UP)
            return None
        return split_conversation_pair(messages_a, messages_b, accounting)
    return _plain_texts(prompt, text_a, text_b, accounting)


def _plain_texts(prompt, text_a, text_b, accounting: Accounting) -> tuple[str, str, str] | None:
    """Texts of one plain row; a message-list prompt is rendered. Blank texts are left to `from_pairs` to count."""
    if isinstance(prompt, list) and all(isinstance(turn, str) for turn in prompt):  # a decoded list of user turns
        if len(prompt) != 1:
            accounting.drop(TURNS_WITHOUT_ANSWERS)
            return None
        prompt = prompt[0]
    if isinstance(prompt, list):
        if not is_conversation(prompt):
            accounting.drop(MALFORMED)
            return None
        prompt = render_prompt(prompt)
    if any(value is not None and not isinstance(value, str) for value in (prompt, text_a, text_b)):
        accounting.drop("prompt or response is neither text nor a message list")
        return None
    return prompt, text_a, text_b
