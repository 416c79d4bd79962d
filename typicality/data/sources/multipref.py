"""allenai/multipref: each pair of responses judged by two crowdworkers and two domain experts.

Rows (`MultiPref-Train.jsonl`, and the hub's `default` config): `comparison_id, prompt_id, text,
model_a, completion_a, model_b, completion_b, source, category, subject_study,
highest_level_degree, normal_worker_annotations, expert_worker_annotations`; each annotation is
`{evaluator, overall_pref, overall_confidence, helpful_pref, truthful_pref, harmless_pref, ...,
time_spent, timestamp}` with `overall_pref` one of `A-is-clearly-better`,
`A-is-slightly-better`, `Tie`, `B-is-slightly-better`, `B-is-clearly-better`. The prompt is
`text` verbatim; the responses are `completion_a` and `completion_b`.

Subsets (`--subset`):
- `annotations` (the default): one comparison per individual annotation, crowd and expert alike,
  labelled by its `overall_pref` (A better -> 1, B better -> 0, Tie -> 0.5). The annotator
  (`typicality.domain.ANNOTATOR_COLUMN`) is the annotation's `evaluator`, `annotator_group`
  says `crowd` (normal_worker_annotations) or `expert`, and `overall_pref` keeps the strength
  (slightly / clearly). The four judgements of one pair are four comparisons, told apart by their
  annotator, not duplicates.
- `aggregate`: one comparison per pair, labelled by the majority direction of all its
  annotations (more A-better than B-better votes -> 1, fewer -> 0, as many -> 0.5; ties count
  for neither side); `votes_a`, `votes_b`, `votes_tie` keep the counts. No annotator column.
Both carry `comparison_id`, `model_a`, `model_b`, `source`, `category`, `subject_study`.
An annotation without a known `overall_pref` is dropped and counted; so is a pair without any.
In `annotations`, a pair the shared checks drop (an empty or identical response) counts once
per annotation, the unit of that subset's comparisons.
"""

from __future__ import annotations

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.request import LoadRequest
from typicality.domain import ANNOTATOR_COLUMN, Accounting, PreferenceData

HUB_ID = "allenai/multipref"
SUBSETS = ("annotations", "aggregate")
OVERALL_LABELS = {
    "A-is-clearly-better": 1.0,
    "A-is-slightly-better": 1.0,
    "Tie": 0.5,
    "B-is-slightly-better": 0.0,
    "B-is-clearly-better": 0.0,
}
ANNOTATION_GROUPS = (("normal_worker_annotations", "crowd"), ("expert_worker_annotations", "expert"))
PAIR_METADATA = ("comparison_id", "model_a", "model_b", "source", "category", "subject_study")
REQUIRED = ["text", "completion_a", "completion_b", *(column for column, _ in ANNOTATION_GROUPS)]
PREFERENCES = {"annotations": "overall_pref of each annotation (A better = 1, Tie = 0.5)", "aggregate": "majority of the overall_pref votes (even = 0.5)"}
UNKNOWN_PREFERENCE = "annotation's overall_pref not A-is-..., B-is-... or Tie"


def load_multipref(request: LoadRequest) -> PreferenceData:
    subset = request.subset or "annotations"  # LoadRequest refused names outside SUBSETS
    split = request.split or "train"
    rows, provenance = read_rows(request, HUB_ID, REQUIRED, split)
    accounting = Accounting(rows_read=len(rows))
    present = [column for column in PAIR_METADATA if column in rows.column_names]
    rows = rows.select_columns(REQUIRED + present)
    extra = (ANNOTATOR_COLUMN, "annotator_group", "overall_pref") if subset == "annotations" else ("votes_a", "votes_b", "votes_tie")
    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {column: [] for column in (*present, *extra)}
    for row in rows:
        judged = []  # (evaluator, group, overall_pref, label) of each usable annotation
        for column, group in ANNOTATION_GROUPS:
            for annotation in row[column] or []:
                label = OVERALL_LABELS.get((annotation or {}).get("overall_pref"))
                if label is None:
                    accounting.drop(UNKNOWN_PREFERENCE)
                    continue
                judged.append((annotation.get("evaluator"), group, annotation["overall_pref"], label))
        if not judged:
            accounting.drop("pair without a usable annotation")
            continue
        if subset == "annotations":
            outcomes = [(label, judgement[:3]) for *judgement, label in judged]
        else:
            votes = [sum(label == value for *_, label in judged) for value in (1.0, 0.0, 0.5)]
            majority = 1.0 if votes[0] > votes[1] else 0.0 if votes[1] > votes[0] else 0.5
            outcomes = [(majority, tuple(votes))]
        for label, values in outcomes:
            prompts.append(row["text"])
            responses_a.append(row["completion_a"])
            responses_b.append(row["completion_b"])
            labels.append(label)
            for column in present:
                metadata[column].append(row[column])
            for column, value in zip(extra, values):
                metadata[column].append(value)
    return from_pairs(
        "multipref",
        prompts,
        responses_a,
        responses_b,
        labels,
        accounting,
        pair_metadata=metadata,
        subset=subset,
        split=split,
        source=", ".join(request.data_files) or HUB_ID,
        provenance=provenance,
        preference=PREFERENCES[subset],
    )
