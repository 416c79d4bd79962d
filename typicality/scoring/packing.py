"""Packed rows: a prompt's responses share one forward pass, each seeing only its context and itself.

A row holds a context's tokens once, then each of its responses (without the last token,
from which nothing is predicted), one after another. An attention mask makes the row a
tree: a response token sees the context and the earlier tokens of its own response, never
a sibling response; positions restart after the context for each response, so every token
gets the position, and the sliding window (counted in positions) the keys, that it has in
the one-sequence computation. Scores are therefore those of running each response after
its prompt on its own (the tests check this against the naive loop), while the context runs
once and every pass is one large batch of matmuls, with no key/value cache to copy.

With `share_contexts=False` each response gets its own row (context repeated) and the model
builds its own causal mask: the fallback for models whose attention takes no custom mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from typicality.scoring.requests import Prepared

PADDING = -1  # the segment of padding slots
CONTEXT = 0  # the segment of the shared context; responses are 1, 2, ...


@dataclass
class PackedRow:
    """One row of a forward pass: its token ids, each slot's segment and position, and which
    slots' outputs predict which response."""

    tokens: list[int] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    predictions: list[tuple[int, list[int]]] = field(default_factory=list)  # (index in the batch, slots)

    def __len__(self) -> int:
        return len(self.tokens)

    def add_context(self, context: tuple[int, ...]) -> None:
        self.tokens += context
        self.segments += [CONTEXT] * len(context)
        self.positions += range(len(context))

    def add_response(self, index: int, context_length: int, response: tuple[int, ...]) -> None:
        """The response's inputs (all but its last token); the outputs predicting its tokens are
        the context's last slot's, then its own inputs'."""
        inputs = response[:-1]
        start = len(self.tokens)
        self.tokens += inputs
        self.segments += [len(self.predictions) + 1] * len(inputs)
        self.positions += range(context_length, context_length + len(inputs))
        self.predictions.append((index, [context_length - 1, *range(start, start + len(inputs))]))


def pack_rows(batch: list[Prepared], share_contexts: bool = True) -> list[PackedRow]:
    """Rows for a batch: one per distinct context holding all its responses, or one per response."""
    rows: dict[tuple[int, ...] | int, PackedRow] = {}
    for index, item in enumerate(batch):
        key = item.context if share_contexts else index
        row = rows.get(key)
        if row is None:
            row = rows[key] = PackedRow()
            row.add_context(item.context)
        row.add_response(index, len(item.context), item.response)
    return list(rows.values())


def padded_tensors(rows: list[PackedRow], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, segments, positions), each [rows, longest row], right-padded (padding segment -1)."""
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    segments = torch.full((len(rows), width), PADDING, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for n, row in enumerate(rows):
        ids[n, : len(row)] = torch.tensor(row.tokens, dtype=torch.long)
        segments[n, : len(row)] = torch.tensor(row.segments, dtype=torch.long)
        positions[n, : len(row)] = torch.tensor(row.positions, dtype=torch.long)
    return ids, segments, positions


def tree_mask(segments: torch.Tensor, positions: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """Boolean [rows, 1, slots, slots] mask, True where a query slot may attend a key slot.

    A key is visible when it is not padding, comes no later in the row, and belongs to the
    context or the query's own segment; with a `window`, also when it is fewer than `window`
    positions back (the sliding-window rule of the one-sequence computation). A padding query
    sees only itself, so no softmax runs over an empty set (its output is never read).
    """
    slots = torch.arange(segments.shape[1], device=segments.device)
    query_segment, key_segment = segments[:, :, None], segments[:, None, :]
    visible = (slots[:, None] >= slots[None, :]) & (key_segment != PADDING)
    visible &= ((key_segment == CONTEXT) & (query_segment != PADDING)) | (key_segment == query_segment)
    if window is not None:
        visible &= (positions[:, :, None] - positions[:, None, :]) < window
    visible |= torch.eye(len(slots), dtype=torch.bool, device=segments.device) & (query_segment == PADDING)
    return visible[:, None]
