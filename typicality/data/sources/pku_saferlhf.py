"""PKU-Alignment/PKU-SafeRLHF: two responses to a prompt, judged twice: which is better, which is safer.

Rows (JSON lines): `prompt, response_0, response_1, prompt_source, response_0_source,
response_1_source, is_response_0_safe, is_response_1_safe, response_0_harm_category,
response_1_harm_category, response_0_severity_level, response_1_severity_level,
better_response_id, safer_response_id, response_0_sha256, response_1_sha256`.

`response_0` is response_a and `response_1` response_b. `better_response_id` and
`safer_response_id` are the INDEX of the preferred response: 0 means response_0 (label 1), 1
means response_1 (label 0); any other value is dropped and counted. `--preference better`
(default) or `safer` picks which judgement is the label; both ids stay as pair metadata, so the
two judgements of the same pairs can be compared. No ties.

Pair metadata, under the card's names: `prompt_source`, `response_0_source`,
`response_1_source` (the model that wrote each response), `is_response_0_safe`,
`is_response_1_safe`, `response_0_severity_level`, `response_1_severity_level`, and
`response_0_harm_category`/`response_1_harm_category` as the names of the categories marked
true, joined by "; " ("" when none): the card stores each as a dict of 19 booleans.
Subsets are the hub configs (default: all three models' files; alpaca-7b, alpaca2-7b,
alpaca3-8b); splits train and test (default test).
"""

from __future__ import annotations

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData

HUB_ID = "PKU-Alignment/PKU-SafeRLHF"
PREFERENCES = ("better", "safer")  # --preference: the judgement that is the label, the first the default
ID_COLUMNS = {"better": "better_response_id", "safer": "safer_response_id"}
ID_LABELS = {0: 1.0, 1: 0.0}  # the index of the preferred response -> the label (1 = response_0 = response_a preferred)
KEPT_COLUMNS = (
    "better_response_id", "safer_response_id", "prompt_source", "response_0_source", "response_1_source",
    "is_response_0_safe", "is_response_1_safe", "response_0_severity_level", "response_1_severity_level",
)  # fmt: skip
HARM_COLUMNS = ("response_0_harm_category", "response_1_harm_category")


def load_pku_saferlhf(request: LoadRequest) -> PreferenceData:
    split = request.split or "test"
    judgement = request.preference or PREFERENCES[0]  # LoadRequest refused names outside PREFERENCES
    id_column = ID_COLUMNS[judgement]
    hub_kwargs = {"name": request.subset} if request.subset else {}
    rows, provenance = read_rows(request, HUB_ID, ["prompt", "response_0", "response_1", id_column], split, hub_kwargs)
    accounting = Accounting(rows_read=len(rows))
    present = [column for column in (*KEPT_COLUMNS, *HARM_COLUMNS) if column in rows.column_names]
    table = rows.select_columns(list(dict.fromkeys(["prompt", "response_0", "response_1", id_column, *present]))).to_pandas()

    labels = [ID_LABELS.get(_index(value)) for value in table[id_column]]
    unknown = [label is None for label in labels]
    accounting.drop(f"{id_column} not 0 or 1", sum(unknown))
    keep = [not flag for flag in unknown]
    table = table[keep].reset_index(drop=True)
    labels = [label for label in labels if label is not None]
    metadata = {column: table[column].tolist() for column in present if column not in HARM_COLUMNS}
    for column in HARM_COLUMNS:
        if column in present:
            metadata[column] = [true_categories(value) for value in table[column]]
    return from_pairs(
        "pku-saferlhf",
        table["prompt"].tolist(),
        table["response_0"].tolist(),
        table["response_1"].tolist(),
        labels,
        accounting,
        pair_metadata=metadata,
        subset=request.subset,
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
        preference=f"{id_column} (the index of the {judgement} response: 0 = response_0 = a)",
    )


def true_categories(categories) -> str | None:
    """The harm categories marked true, in the card's order, joined by "; " ("" when none; None when absent)."""
    if not isinstance(categories, dict):
        return None
    return "; ".join(name for name, flagged in categories.items() if flagged)


def _index(value) -> int | None:
    """0 or 1 from an int or a whole float (pandas turns an int column with a gap into floats); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number in (0.0, 1.0) else None
