"""HuggingFaceH4/ultrafeedback_binarized: UltraFeedback cut to one chosen/rejected pair per prompt.

Rows: `prompt, prompt_id, chosen, rejected, messages, score_chosen, score_rejected`, where
`chosen` and `rejected` are message lists `[{role, content}, ...]` ending with the judged
assistant turn. Prompt and responses come from those lists through
`typicality.data.render.split_conversation_pair` (a single user turn stays verbatim, so
prompts equal the raw UltraFeedback instructions). `score_chosen`/`score_rejected` are kept
as pair metadata. The label is 1 (chosen preferred), except 0.5 when the two scores are
equal: the binarisation then picked "chosen" among equal scores at random, so no preference
was expressed.

Default split: `test_prefs` (2,000 pairs, a quick audit of the size the paper sampled);
`--split train_prefs` reads the 61k training pairs.
"""

from __future__ import annotations

import math

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.render import split_conversation_pair
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData

HUB_ID = "HuggingFaceH4/ultrafeedback_binarized"
DEFAULT_SPLIT = "test_prefs"


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def load_ultrafeedback_binarized(request: LoadRequest) -> PreferenceData:
    split = request.split or DEFAULT_SPLIT
    rows, provenance = read_rows(request, HUB_ID, ["chosen", "rejected", "score_chosen", "score_rejected"], split)
    accounting = Accounting(rows_read=len(rows))
    rows = rows.select_columns(["chosen", "rejected", "score_chosen", "score_rejected"])  # skip `messages`: not needed
    prompts, chosen, rejected, labels, score_chosen, score_rejected = [], [], [], [], [], []
    for row in rows:
        texts = split_conversation_pair(row["chosen"], row["rejected"], accounting)
        if texts is None:
            continue
        high, low = _number(row["score_chosen"]), _number(row["score_rejected"])
        prompts.append(texts[0])
        chosen.append(texts[1])
        rejected.append(texts[2])
        labels.append(0.5 if high == low else 1.0)
        score_chosen.append(high)
        score_rejected.append(low)
    return from_pairs(
        "ultrafeedback-binarized",
        prompts,
        chosen,
        rejected,
        labels,
        accounting,
        pair_metadata={"score_chosen": score_chosen, "score_rejected": score_rejected},
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
        preference="chosen over rejected",
    )
