"""OpenAssistant/oasst1 and oasst2: conversation trees whose sibling assistant replies were ranked.

Rows are flat messages: `message_id, parent_id, user_id, created_date, text, role, lang,
review_count, review_result, deleted, rank, synthetic, model_name, detoxify, message_tree_id,
tree_state, emojis, labels`; `role` is `prompter` or `assistant`, `parent_id` is null at a tree's
root, and `rank` orders the assistant replies to one prompter message (0 = best; null = not
ranked). Subsets (`--subset`): `oasst1` (the default) and `oasst2`, two hub datasets of the same
layout; splits `train` (the default) and `validation`.

Pairs: every two ranked assistant replies to the same parent message, in file order; label 1
when the first has the better (lower) rank, 0 when the worse, 0.5 on equal ranks. The prompt is
the path from the tree's root to the parent, rendered by `typicality.data.render.render_prompt`
(a root prompt alone is its text verbatim; a longer path is a Human/Assistant transcript). Two
parents with the same rendered text are still two groups: replies are only paired within their
parent, whose ranking they share. Pair metadata: `lang` (the parent message's language),
`message_tree_id`, `parent_id`, `rank_a`, `rank_b`.

The rank is an aggregate of several users' rankings, and the rows do not say whose, so these
comparisons have no annotator column.

Every assistant reply that forms no pair is counted by reason: deleted, not ranked (rank null),
its parent or an ancestor missing from the rows read (a partial file), or the only ranked reply
to its parent. Prompter messages are the prompts' turns, not judged texts.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.render import render_prompt
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData

HUB_IDS = {"oasst1": "OpenAssistant/oasst1", "oasst2": "OpenAssistant/oasst2"}
SUBSETS = tuple(HUB_IDS)
COLUMNS = ["message_id", "parent_id", "text", "role", "lang", "deleted", "rank", "message_tree_id"]
ROLES = {"prompter": "user", "assistant": "assistant"}


def conversation_path(message_id: str, messages: dict[str, dict]) -> list[dict] | None:
    """The messages from the tree's root down to `message_id`, as {role, content}; None if one is missing or not a chat turn."""
    path = []
    current = messages.get(message_id)
    while current is not None:
        if current["role"] not in ROLES or not isinstance(current["text"], str):
            return None
        path.append({"role": ROLES[current["role"]], "content": current["text"]})
        parent = current["parent_id"]
        if parent is None:
            return path[::-1]
        current = messages.get(parent)
    return None


def load_oasst(request: LoadRequest) -> PreferenceData:
    subset = request.subset or "oasst1"  # LoadRequest refused names outside SUBSETS
    split = request.split or "train"
    hub_id = HUB_IDS[subset]
    rows, provenance = read_rows(request, hub_id, COLUMNS, split)
    accounting = Accounting(rows_read=len(rows))
    table = rows.select_columns(COLUMNS).to_pandas()
    table = table.astype(object).where(table.notna(), None)  # None, not NaN, for the null ranks and parents
    messages = {row["message_id"]: row for row in table.to_dict("records")}
    replies: dict[str, list[dict]] = defaultdict(list)  # parent id -> its ranked, live assistant replies, in file order
    for message in messages.values():
        if message["role"] != "assistant":
            continue
        if message["deleted"]:  # a bool (null where the export leaves it out)
            accounting.drop("deleted reply")
        elif message["rank"] is None:
            accounting.drop("unranked reply (rank null)")
        else:
            replies[message["parent_id"]].append(message)

    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {column: [] for column in ("lang", "message_tree_id", "parent_id", "rank_a", "rank_b")}
    for parent_id, siblings in replies.items():
        path = conversation_path(parent_id, messages)
        if path is None or path[-1]["role"] != "user":
            accounting.drop("reply whose conversation is missing from the rows read", len(siblings))
            continue
        if len(siblings) < 2:
            accounting.drop("only ranked reply to its parent")
            continue
        prompt = render_prompt(path)
        for first, second in itertools.combinations(siblings, 2):
            rank_a, rank_b = float(first["rank"]), float(second["rank"])
            prompts.append(prompt)
            responses_a.append(first["text"])
            responses_b.append(second["text"])
            labels.append(1.0 if rank_a < rank_b else 0.0 if rank_a > rank_b else 0.5)
            values = (messages[parent_id]["lang"], first["message_tree_id"], parent_id, int(rank_a), int(rank_b))
            for column, value in zip(metadata, values):
                metadata[column].append(value)
    return from_pairs(
        "oasst",
        prompts,
        responses_a,
        responses_b,
        labels,
        accounting,
        pair_metadata=metadata,
        subset=subset,
        split=split,
        source=", ".join(request.data_files) or hub_id,
        provenance=provenance,
        preference="rank among sibling replies (lower = better)",
    )
