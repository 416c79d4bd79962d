"""stanfordnlp/SHP: pairs of Reddit comments to one post, preferred by collective upvotes.

Rows: `post_id, domain, upvote_ratio, history, c_root_id_A, c_root_id_B, created_at_utc_A,
created_at_utc_B, score_A, score_B, human_ref_A, human_ref_B, labels, seconds_difference,
score_ratio`. The prompt is `history` (the post), the responses `human_ref_A`/`human_ref_B`,
label = `labels` (1 = A preferred, 0 = B preferred). `score_ratio` (how decisive the
preference was) and `domain` (the subreddit and split) are kept as pair metadata. Subsets are
the 18 subreddit folders (data_dir); by default all of them.
"""

from __future__ import annotations

from typicality.data.build import from_pairs, parse_labels
from typicality.data.reading import read_rows
from typicality.data.request import LoadRequest
from typicality.domain import Accounting, PreferenceData

HUB_ID = "stanfordnlp/SHP"


def load_shp(request: LoadRequest) -> PreferenceData:
    split = request.split or "test"
    hub_kwargs = {"data_dir": request.subset} if request.subset else {}
    rows, provenance = read_rows(request, HUB_ID, ["history", "human_ref_A", "human_ref_B", "labels", "score_ratio", "domain"], split, hub_kwargs)
    accounting = Accounting(rows_read=len(rows))
    table = rows.select_columns(["history", "human_ref_A", "human_ref_B", "labels", "score_ratio", "domain"]).to_pandas()
    labels = parse_labels(table["labels"], ", ".join(request.data_files) or HUB_ID, allowed=(1.0, 0.0))
    return from_pairs(
        "shp",
        table["history"].tolist(),
        table["human_ref_A"].tolist(),
        table["human_ref_B"].tolist(),
        labels,
        accounting,
        pair_metadata={"score_ratio": table["score_ratio"].astype(float).tolist(), "domain": table["domain"].tolist()},
        subset=request.subset,
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
        preference="labels (1 = A preferred)",
    )
