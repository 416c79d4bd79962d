"""openai/summarize_from_feedback, `comparisons`: a labeller picks the better of two summaries of a post.

Records, in OpenAI's raw JSON lines (`comparisons/batch*.json`): `info{id, post, title,
subreddit, site, article}, summaries[{text, policy, note}], choice, worker, batch, split,
extra{confidence}`; Reddit TL;DR posts have `post` and `subreddit`, CNN/Daily Mail articles
`article` and `site`, and any of these keys (and `extra.confidence`) may be absent. The hub
repository holds only a loading script, which `datasets` no longer runs, so by default this
loader reads the same raw files the script read, from OpenAI's public storage (`RAW_FILES`);
`--data-files` reads local copies of them.

The prompt is the query format of the paper's released code (the TL;DR format):
`SUBREDDIT: r/{subreddit}\\n\\nTITLE: {title}\\n\\nPOST: {post}\\n\\nTL;DR:` for a Reddit post
and `Article:\\n{article}\\n\\nTL;DR:` for a news article. Each summary is its `text` verbatim:
the texts start with a space, as continuations of `TL;DR:`. Label from `choice`, the index of
the preferred summary: 0 -> 1 (response_a = summaries[0] preferred), 1 -> 0. Pair metadata:
`worker` as the annotator (`typicality.domain.ANNOTATOR_COLUMN`), `batch`, `confidence`
(extra.confidence; missing in some batches), `policy_a`, `policy_b` (the policies that
wrote the two summaries), `subreddit`, `site` and `post_id` (info.id).

Splits (`--split`): the records' own `split` field; `train` (the default), `validation`
(valid1 and valid2, as the hub's script grouped them), or `valid1` / `valid2` alone. Records of
the other splits are not read (a note counts them).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import datasets

from typicality.data.build import from_pairs
from typicality.data.reading import read_rows
from typicality.data.request import LoadRequest
from typicality.domain import ANNOTATOR_COLUMN, Accounting, PreferenceData
from typicality.errors import TypicalityError

HUB_ID = "openai/summarize_from_feedback"
RAW_URL = "https://openaipublic.blob.core.windows.net/summarize-from-feedback/dataset/comparisons"
# The batch files the hub's loading script reads, in its order.
RAW_BATCHES = (
    "batch3", "batch4", "batch5", "batch10", "batch11", "batch12", "batch13", "batch14", "batch15", "batch16",
    "batch17", "batch18", "batch19", "batch20", "batch22", "batch6", "batch7", "batch8", "batch9",
    "batch0_cnndm", "cnndm0", "cnndm2", "edit_b2_eval_test",
)  # fmt: skip
RAW_FILES = tuple(f"{RAW_URL}/{batch}.json" for batch in RAW_BATCHES)
SPLITS = {"train": ("train",), "validation": ("valid1", "valid2"), "valid1": ("valid1",), "valid2": ("valid2",)}
TLDR_FORMAT = "SUBREDDIT: r/{subreddit}\n\nTITLE: {title}\n\nPOST: {post}\n\nTL;DR:"
ARTICLE_FORMAT = "Article:\n{article}\n\nTL;DR:"
# The schema of the raw records with every optional key; missing keys read as null.
FEATURES = datasets.Features(
    {
        "info": {name: datasets.Value("string") for name in ("id", "post", "title", "subreddit", "site", "article")},
        "summaries": datasets.List({name: datasets.Value("string") for name in ("text", "policy", "note")}),
        "choice": datasets.Value("int64"),
        "worker": datasets.Value("string"),
        "batch": datasets.Value("string"),
        "split": datasets.Value("string"),
        "extra": {"confidence": datasets.Value("int64")},
    }
)
METADATA = (ANNOTATOR_COLUMN, "batch", "confidence", "policy_a", "policy_b", "subreddit", "site", "post_id")


def render_post(info: dict) -> str | None:
    """The TL;DR query of a record's `info` (rule in the module docstring); None when it has neither post nor article."""
    if isinstance(info.get("post"), str) and info["post"].strip():
        return TLDR_FORMAT.format(subreddit=info.get("subreddit") or "", title=info.get("title") or "", post=info["post"])
    if isinstance(info.get("article"), str) and info["article"].strip():
        return ARTICLE_FORMAT.format(article=info["article"])
    return None


def load_summarize_from_feedback(request: LoadRequest) -> PreferenceData:
    split = request.split or "train"
    if split not in SPLITS:
        raise TypicalityError(f"summarize-from-feedback has no split '{split}'. Its splits: {', '.join(SPLITS)} (--split).")
    if not request.data_files:
        if request.revision is not None:
            raise TypicalityError("summarize-from-feedback reads OpenAI's raw files, which have no revisions; drop --revision.")
        request = dataclasses.replace(request, data_files=RAW_FILES)
    rows, provenance = read_rows(request, HUB_ID, ["info", "summaries", "choice", "split"], split, features=FEATURES)
    wanted = SPLITS[split]
    others = Counter(value for value in rows["split"] if value not in wanted)
    accounting = Accounting(rows_read=len(rows) - sum(others.values()))
    if others:
        counts = ", ".join(f"{name}: {count}" for name, count in sorted(others.items(), key=lambda item: str(item[0])))
        accounting.notes.append(f"{sum(others.values())} records of other splits were not read ({counts}).")
    prompts, responses_a, responses_b, labels = [], [], [], []
    metadata: dict[str, list] = {column: [] for column in METADATA}
    for row in rows:
        if row["split"] not in wanted:
            continue
        summaries = row["summaries"] or []
        if len(summaries) != 2:
            accounting.drop("not two summaries")
            continue
        if row["choice"] not in (0, 1):
            accounting.drop("choice not 0 or 1")
            continue
        info = row["info"] or {}
        prompt = render_post(info)
        if prompt is None:
            accounting.drop("no post or article text")
            continue
        prompts.append(prompt)
        responses_a.append(summaries[0]["text"])
        responses_b.append(summaries[1]["text"])
        labels.append(1.0 if row["choice"] == 0 else 0.0)
        values = (
            row.get("worker"), row.get("batch"), (row.get("extra") or {}).get("confidence"), summaries[0]["policy"],
            summaries[1]["policy"], info.get("subreddit"), info.get("site"), info.get("id"),
        )  # fmt: skip
        for column, value in zip(METADATA, values):
            metadata[column].append(value)
    return from_pairs(
        "summarize-from-feedback",
        prompts,
        responses_a,
        responses_b,
        labels,
        accounting,
        pair_metadata=metadata,
        split=split,
        source=", ".join(request.data_files) if request.data_files != RAW_FILES else f"{HUB_ID} (raw files at {RAW_URL})",
        provenance=provenance,
        preference="choice (the index of the preferred summary: 0 = response_a)",
    )
