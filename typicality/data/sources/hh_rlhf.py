"""Anthropic/hh-rlhf: JSONL {chosen, rejected}, each a whole `\\n\\nHuman: ... \\n\\nAssistant: ...` transcript."""

from __future__ import annotations

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.render import ASSISTANT_CUE
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData


def split_transcript(transcript: str) -> tuple[str, str] | None:
    """(prompt, response): the prompt is everything up to and including the last `\\n\\nAssistant:`."""
    cut = transcript.rfind(ASSISTANT_CUE)
    if cut < 0:
        return None
    cut += len(ASSISTANT_CUE)
    return transcript[:cut], transcript[cut:]


def load_hh_rlhf(request: LoadRequest) -> PreferenceData:
    split = request.split or "test"
    rows, provenance = read_rows(request, "Anthropic/hh-rlhf", ["chosen", "rejected"], split, {"data_dir": request.subset})
    accounting = Accounting(rows_read=len(rows))
    prompts, chosen, rejected = [], [], []
    for row in rows:
        parts_chosen = split_transcript(row["chosen"] or "")
        parts_rejected = split_transcript(row["rejected"] or "")
        if parts_chosen is None or parts_rejected is None:
            accounting.drop("no '\\n\\nAssistant:' turn")
            continue
        if parts_chosen[0] != parts_rejected[0]:
            accounting.drop("chosen and rejected prompts differ")
            continue
        prompts.append(parts_chosen[0])
        chosen.append(parts_chosen[1])
        rejected.append(parts_rejected[1])
    return from_pairs(
        "hh-rlhf",
        prompts,
        chosen,
        rejected,
        [1.0] * len(prompts),
        accounting,
        subset=request.subset,
        split=split,
        source=", ".join(request.data_files) or "Anthropic/hh-rlhf",
        provenance=provenance,
        preference="chosen over rejected",
    )
