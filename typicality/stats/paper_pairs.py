"""The paper's pair construction, on request (`--pair-construction paper`), beside the project's default.

Two ways to turn rated responses into pairs:

- `distinct` (default, `build_pairs`): one row per distinct response under a prompt (the
  loader drops a response repeated under the same prompt, counted in the accounting), every
  within-prompt pair of distinct responses, oriented at random (seeded), no intercept.
- `paper` (this module): what the published script does (Zhang et al. 2025): every
  within-prompt pair of *rows* (i < j in dataset order), repeated responses included, oriented
  by dataset order (a = the earlier row, so `flipped` is always False), and the logit gets an
  intercept (dataset order is not random, so position could carry signal). Ties (equal
  preference rating) are dropped, or kept as 0.5 with `ties="half"`. The published counts
  (28,283 pairs, 6,874 equal-correctness on HelpSteer train) come from this construction.

The two differ only where a response is repeated under a prompt (the paper's pairs then
include a response against its own copy, with whatever ratings each copy got) and in the
orientation and intercept. `rows`: the rated rows *before* the loader's de-duplication
(prompt_id, response_id and the ratings, in dataset order); by default the data's own
responses table, which has the repeats already removed (a warning in the accounting says how
many the loader dropped, so the counts differ from the paper's by those pairs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from typicality.domain import PairDesign, PreferenceData
from typicality.errors import TypicalityError
from typicality.results import PairAccounting
from typicality.stats.pair_design import SLICE_COLUMNS, TIE_POLICIES
from typicality.stats.scores_table import check_scores

REPEATED = "response repeated under the same prompt"


def build_paper_pairs(data: PreferenceData, scores, *, ties: str = "drop", rows: pd.DataFrame | None = None) -> PairDesign:
    """Every within-prompt pair of rows in dataset order, oriented by that order (the paper's construction)."""
    if ties not in TIE_POLICIES:
        raise TypicalityError(f"ties must be one of {', '.join(TIE_POLICIES)}, got '{ties}'.")
    rating = data.preference_rating
    if data.kind != "rated" or not rating:
        raise TypicalityError(f"--pair-construction paper builds pairs from ratings; dataset '{data.name}' is {data.kind} (use the default, distinct).")
    own_rows = rows is None
    rows = (data.responses if own_rows else rows).reset_index(drop=True)
    ratings = [column for column in data.rating_columns if column in rows.columns]
    scores = check_scores(scores)
    usable = scores.usable.drop_duplicates("response_id").set_index("response_id")
    scored = rows["response_id"].astype(str).isin(usable.index).to_numpy()

    first, second = _row_pairs(rows["prompt_id"].astype(str).to_numpy())
    preference = pd.to_numeric(rows[rating], errors="coerce").to_numpy(dtype=float)
    label = np.sign(preference[first] - preference[second]) / 2 + 0.5  # 1, 0, 0.5 on a tie; NaN when missing
    keep = np.ones(len(first), dtype=bool)
    dropped = {}
    for reason, mask in (
        ("missing label", np.isnan(label)),
        ("a response has no usable score", ~(scored[first] & scored[second])),
        ("tie (ties='drop')", (label == 0.5) if ties == "drop" else np.zeros(len(first), dtype=bool)),
    ):
        dropped[reason] = int((keep & mask).sum())
        keep &= ~mask
    first, second, label = first[keep], second[keep], label[keep]

    ids = rows["response_id"].astype(str).to_numpy(dtype=object)
    columns = {
        "prompt_id": rows["prompt_id"].astype(str).to_numpy(dtype=object)[first],
        "comparison": np.arange(len(first)),
        "response_a": ids[first],
        "response_b": ids[second],
        "label": label,
        "flipped": np.zeros(len(first), dtype=bool),
    }
    for column in ("mean_logprob", "sum_logprob", "n_tokens", "truncated"):
        values = usable[column].reindex(ids).to_numpy()
        columns[f"{column}_a"], columns[f"{column}_b"] = values[first], values[second]
    columns["delta_mean_logprob"] = columns["mean_logprob_a"].astype(float) - columns["mean_logprob_b"].astype(float)
    columns["delta_sum_logprob"] = columns["sum_logprob_a"].astype(float) - columns["sum_logprob_b"].astype(float)
    columns["delta_log_tokens"] = np.log(columns["n_tokens_a"].astype(float)) - np.log(columns["n_tokens_b"].astype(float))
    for name in ratings:
        values = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)
        columns[f"{name}_a"], columns[f"{name}_b"] = values[first], values[second]
        columns[f"delta_{name}"] = values[first] - values[second]
    frame = pd.DataFrame(columns)

    repeated = int(data.accounting.dropped.get(REPEATED, 0)) if own_rows else 0
    note = (
        f"The loader dropped {repeated} responses repeated under the same prompt; the paper's script pairs those rows too, "
        "so its counts are higher by the pairs they form."
    )
    accounting = PairAccounting(
        comparisons=int(len(keep)),
        pairs=int(len(frame)),
        dropped={reason: count for reason, count in dropped.items() if count},
        construction="paper: every within-prompt pair of rows in dataset order, oriented by that order, with an intercept",
        responses=int(len(rows)),
        responses_without_score=int((~scored).sum()),
        responses_with_unusable_score=0,
        unusable_scores={},
        ties_kept_as_half=int((frame["label"] == 0.5).sum()),
        note=note if repeated else None,
    )
    return PairDesign(
        frame=frame,
        dataset=data.name,
        model=scores.fingerprint,
        seed=0,
        ties=ties,
        construction="paper",
        ratings=ratings,
        correctness=data.correctness if data.correctness in ratings else None,
        metadata=[],
        slice_columns=[column for column in SLICE_COLUMNS if column in frame.columns],
        accounting=accounting,
    )


def _row_pairs(prompt_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j), i < j in row order, of rows sharing a prompt; ordered by prompt (first appearance), then i, then j."""
    codes, _ = pd.factorize(prompt_ids)
    first, second = [], []
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0]) if len(order) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(order)]
    for start, end in zip(starts, ends):
        members = order[start:end]
        i, j = np.triu_indices(len(members), k=1)
        first.append(members[i])
        second.append(members[j])
    if not first:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate(first), np.concatenate(second)
