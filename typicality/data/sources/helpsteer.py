"""nvidia/HelpSteer and nvidia/HelpSteer2: responses rated 0-4 on five attributes, grouped by prompt.

Rows: `prompt, response, helpfulness, correctness, coherence, complexity, verbosity`, one row
per response (HelpSteer: up to four per prompt; HelpSteer2: two). Comparisons are every
within-prompt pair judged by `helpfulness` (or `--rating`), ties kept as 0.5;
`correctness` stands for true quality, as in the paper; all five ratings are kept.

HelpSteer2 embeds earlier turns in `prompt` as `user 1<extra_id_1>Assistant\\nassistant
1<extra_id_1>User\\nuser 2`; `helpsteer2_messages` parses them into a message list that
`typicality.data.render.render_prompt` turns into plain text (a single-turn prompt stays
verbatim). HelpSteer (v1) prompts are single-turn raw text, kept verbatim.
"""

from __future__ import annotations

import re

from typicality.data.build import from_ratings
from typicality.data.reading import read_rows
from typicality.data.render import render_prompt
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData

RATINGS = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
TURN_TAG = re.compile(r"<extra_id_1>(User|Assistant)[ \t]*\n?")


def helpsteer2_messages(prompt: str) -> list[dict]:
    """A HelpSteer2 prompt as a message list: text before the first tag is the first user turn."""
    parts = TURN_TAG.split(prompt)
    if len(parts) == 1:
        return [{"role": "user", "content": prompt}]
    messages = [{"role": "user", "content": parts[0]}] if parts[0].strip() else []
    for role, content in zip(parts[1::2], parts[2::2]):
        messages.append({"role": role.lower(), "content": content})
    return messages


def _load(name: str, hub_id: str, request: LoadRequest, render_turns: bool) -> PreferenceData:
    split = request.split or "train"
    preference = request.rating or "helpfulness"  # LoadRequest refused names outside RATINGS
    correctness = request.correctness or "correctness"
    rows, provenance = read_rows(request, hub_id, ["prompt", "response", *RATINGS], split)
    accounting = Accounting(rows_read=len(rows))
    rated = rows.select_columns(["prompt", "response", *RATINGS]).to_pandas()
    if render_turns:
        rated["prompt"] = [render_prompt(helpsteer2_messages(p)) if isinstance(p, str) else p for p in rated["prompt"]]
    return from_ratings(
        name,
        rated,
        preference,
        list(RATINGS),
        accounting,
        correctness=correctness,
        split=split,
        source=", ".join(request.data_files) or hub_id,
        provenance=provenance,
    )


def load_helpsteer(request: LoadRequest) -> PreferenceData:
    return _load("helpsteer", "nvidia/HelpSteer", request, render_turns=False)


def load_helpsteer2(request: LoadRequest) -> PreferenceData:
    return _load("helpsteer2", "nvidia/HelpSteer2", request, render_turns=True)
