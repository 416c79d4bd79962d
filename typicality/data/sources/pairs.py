"""Generic judged pairs from any local or Hub file (`--data-files`, hf://datasets/... for the Hub).

Two layouts, other names mapped with `--columns new=old,...`:
- `prompt, chosen, rejected`: chosen preferred (label 1);
- `prompt, response_a, response_b, label`: label 1 = a preferred, 0 = b preferred, 0.5 = tie.
Responses may be plain text, or message lists `[{role, content}, ...]` ending with the judged
assistant turn (as in many Hub preference sets); then prompt and responses come from the lists
through `typicality.data.render` and a `prompt` column is not needed. A plain-text prompt is
kept verbatim; a message-list prompt is rendered by `render_prompt`. Every other column of
scalar values (text, numbers) is kept as pair metadata, e.g. for slices by domain.
"""

from __future__ import annotations

import datasets

from typicality.data.build import from_pairs, parse_labels
from typicality.data.reading import read_rows
from typicality.data.render import MALFORMED, is_conversation, render_prompt, split_conversation_pair
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData
from typicality.errors import TypicalityError

LAYOUTS = (("chosen", "rejected"), ("response_a", "response_b", "label"))


def scalar_columns(rows: datasets.Dataset, exclude: set[str]) -> list[str]:
    """Columns holding one text, number or flag per row (kept as metadata), in file order."""
    return [name for name, feature in rows.features.items() if name not in exclude and isinstance(feature, datasets.Value)]


def load_pairs(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    rows, provenance = read_rows(request, None, [], split)
    where = ", ".join(request.data_files)
    layout = next((columns for columns in LAYOUTS if set(columns) <= set(rows.column_names)), None)
    if layout is None:
        raise TypicalityError(
            f"{where}: expected columns prompt, chosen, rejected or prompt, response_a, response_b, label; "
            f"found {', '.join(rows.column_names)}. Map other names with --columns new=old."
        )
    first = next((value for value in rows.select_columns([layout[0]]).take(min(100, len(rows)))[layout[0]] if value is not None), None)
    if not isinstance(first, list) and "prompt" not in rows.column_names:
        raise TypicalityError(
            f"{where}: missing column prompt (needed when responses are plain text). Expected prompt, "
            f"{', '.join(layout)}; found {', '.join(rows.column_names)}. Map other names with --columns new=old."
        )
    accounting = Accounting(rows_read=len(rows))
    labels_in = parse_labels(rows["label"], where) if len(layout) == 3 else [1.0] * len(rows)
    metadata_columns = scalar_columns(rows, {"prompt", *layout})
    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {column: [] for column in metadata_columns}
    for index, row in enumerate(rows):
        text_a, text_b = row[layout[0]], row[layout[1]]
        if isinstance(text_a, list) or isinstance(text_b, list):
            texts = split_conversation_pair(text_a, text_b, accounting)
        else:
            texts = _plain_texts(row.get("prompt"), text_a, text_b, accounting)
        if texts is None:
            continue
        prompts.append(texts[0])
        responses_a.append(texts[1])
        responses_b.append(texts[2])
        labels.append(labels_in[index])
        for column in metadata_columns:
            metadata[column].append(row[column])
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
        preference="chosen over rejected" if len(layout) == 2 else "label (1 = response_a preferred)",
    )


def _plain_texts(prompt, text_a, text_b, accounting: Accounting) -> tuple[str, str, str] | None:
    """Texts of one plain row; a message-list prompt is rendered. Blank texts are left to `from_pairs` to count."""
    if isinstance(prompt, list):
        if not is_conversation(prompt):
            accounting.drop(MALFORMED)
            return None
        prompt = render_prompt(prompt)
    if any(value is not None and not isinstance(value, str) for value in (prompt, text_a, text_b)):
        accounting.drop("prompt or response is neither text nor a message list")
        return None
    return prompt, text_a, text_b
