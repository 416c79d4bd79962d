"""The domain types every stage passes along: `PreferenceData`, `ScoreResult`, `PairDesign`.

Plain data and the table schemas, no I/O and nothing heavy (no torch): data builds `PreferenceData`,
scoring builds a `ScoreResult`, stats builds a `PairDesign`; `typicality.audit_folder` reads and
writes them. Ids are here too, because a response's identity is part of the data model.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pandas as pd

from typicality.display import Card, Displayed, preference_data_card, score_result_card
from typicality.errors import TypicalityError
from typicality.text_digest import text_digest

# The columns of the data tables every loader produces (plus ratings / metadata).
RESPONSE_COLUMNS = ["prompt_id", "prompt", "response_id", "response"]
COMPARISON_COLUMNS = ["prompt_id", "response_a", "response_b", "label"]
# Who judged a comparison, under one name whatever the source calls it (`judge`, `worker`,
# `evaluator`, a user id): an optional per-pair metadata column, so that an analysis per
# annotator reads one column for every source. Absent where the source does not say.
ANNOTATOR_COLUMN = "annotator"

# The scores table: column -> dtype (pandas), as the scorer writes it.
SCORE_SCHEMA = {
    "prompt_id": "object",
    "response_id": "object",
    "n_tokens": "int64",
    "sum_logprob": "float64",
    "mean_logprob": "float64",
    "truncated": "bool",
    "prompt_truncated": "bool",
    "boundary_merged": "bool",
    "skipped": "object",  # the scorer's reason for not scoring a response, None when scored
    "model": "object",  # the model fingerprint
}
SCORE_COLUMNS = list(SCORE_SCHEMA)
# The columns the stats stage cannot do without (a simulated or hand-made table may lack the rest).
REQUIRED_SCORE_COLUMNS = ["response_id", "n_tokens", "sum_logprob", "mean_logprob"]


# ---------------------------------------------------------------------------------------------
# Ids


def text_id(*parts: str) -> str:
    """A stable 16-hex id for a text (or a tuple of texts): same text, same id, on any machine."""
    return text_digest(*parts)[:16]


def prompt_id_for(prompt: str) -> str:
    return text_id("prompt", prompt)


def response_id_for(prompt: str, response: str) -> str:
    """A response is identified by its text *and* its prompt: the same words after another prompt score differently."""
    return text_id("response", prompt, response)


# ---------------------------------------------------------------------------------------------
# Data: what was judged


@dataclass
class Accounting:
    """What a loader read and what it dropped, by reason; nothing is lost silently."""

    rows_read: int = 0
    dropped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def drop(self, reason: str, count: int = 1) -> None:
        if count:
            self.dropped[reason] += count

    def to_dict(self) -> dict:
        return {"rows_read": self.rows_read, "dropped": dict(self.dropped), "notes": list(self.notes)}


@dataclass(repr=False)  # shown by its card (typicality/display.py), not a dataclass repr of two tables
class PreferenceData(Displayed):
    """One preference dataset in canonical form.

    `responses`: one row per distinct (prompt, response): prompt_id, prompt, response_id,
    response, plus the source's numeric ratings (NaN when absent).
    `comparisons`: one row per judged pair: prompt_id, response_a, response_b (response ids),
    label (1 = a preferred, 0 = b preferred, 0.5 = tie), plus per-pair metadata columns.
    Every other field is JSON-able: an audit folder saves them all in dataset.json.
    """

    name: str
    responses: pd.DataFrame
    comparisons: pd.DataFrame
    accounting: Accounting = field(default_factory=Accounting)
    kind: str = "pairwise"  # "pairwise" (judged pairs) or "rated" (pairs derived from ratings)
    rating_columns: list[str] = field(default_factory=list)  # numeric ratings in `responses`
    correctness: str | None = None  # the rating that stands for true quality, if any
    preference: str = ""  # what the label means, in words
    preference_rating: str | None = None  # rated data: the rating column that decided the labels; None for pairwise
    subset: str | None = None
    split: str | None = None
    source: str = ""  # hub id or local file paths, in words
    # The registered source's name for people ("HH-RLHF"), set by `typicality.data.load`;
    # None for the generic file loaders, whose data is titled by its files.
    source_title: str | None = None
    # The resolved source of the load, one entry per hub dataset or file read:
    # {"kind": "hub", "id", "data_dir"/"name" (when given), "split", "revision"} or
    # {"kind": "file", "path" (absolute), "sha256", "bytes"} or {"kind": "url", "url"}.
    provenance: list[dict] = field(default_factory=list)

    def _card(self) -> Card:
        return preference_data_card(self)

    @property
    def n_prompts(self) -> int:
        return int(self.responses["prompt_id"].nunique())

    @property
    def title(self) -> str:
        """A title for people: "HH-RLHF helpful-base (test)"; a generic file is named by its file, "my_prefs.jsonl"."""
        title = self.source_title or _file_names(self.provenance) or self.source or self.name
        if self.subset:
            title += f" {self.subset}"
        if self.split:
            title += f" ({self.split})"
        return title

    def summary(self) -> dict:
        """The counts `typicality inspect` prints."""
        labels = self.comparisons["label"]
        prompt_chars = self.responses.drop_duplicates("prompt_id")["prompt"].str.len()
        response_chars = self.responses["response"].str.len()
        quantiles = [0.0, 0.25, 0.5, 0.75, 1.0]
        return {
            "dataset": self.name,
            "title": self.title,
            "subset": self.subset,
            "split": self.split,
            "kind": self.kind,
            "n_rows": self.accounting.rows_read,
            "n_prompts": self.n_prompts,
            "n_responses": int(len(self.responses)),
            "n_comparisons": int(len(self.comparisons)),
            "n_ties": int((labels == 0.5).sum()),
            "dropped": dict(self.accounting.dropped),
            "notes": list(self.accounting.notes),
            "rating_columns": list(self.rating_columns),
            "correctness": self.correctness,
            "preference_rating": self.preference_rating,
            "provenance": [dict(entry) for entry in self.provenance],
            "prompt_chars_quantiles": _quantiles(prompt_chars, quantiles),
            "response_chars_quantiles": _quantiles(response_chars, quantiles),
        }

    def limit(self, n_prompts: int | None, seed: int = 0) -> PreferenceData:
        """Keep a seeded random sample of whole prompt groups (all their responses and pairs)."""
        if n_prompts is None or n_prompts >= self.n_prompts:
            return self
        if n_prompts < 1:
            raise TypicalityError(f"--limit must be at least 1, got {n_prompts}.")
        prompt_ids = np.sort(self.responses["prompt_id"].unique())
        rng = np.random.default_rng(seed)
        keep = set(rng.choice(prompt_ids, size=n_prompts, replace=False))
        accounting = Accounting(self.accounting.rows_read, Counter(self.accounting.dropped), list(self.accounting.notes))
        accounting.notes.append(f"--limit kept {n_prompts} of {len(prompt_ids)} prompts (seed {seed}).")
        return dataclasses.replace(
            self,
            responses=self.responses[self.responses["prompt_id"].isin(keep)].reset_index(drop=True),
            comparisons=self.comparisons[self.comparisons["prompt_id"].isin(keep)].reset_index(drop=True),
            accounting=accounting,
        )


def source_name(provenance: list[dict] | None, source: str) -> str:
    """The source as a reader can look it up: hub ids and file names, never the absolute path of the machine that ran the audit."""
    names = []
    for entry in provenance or []:
        if entry.get("kind") == "hub" and entry.get("id"):
            part = " ".join(str(entry[key]) for key in ("data_dir", "name") if entry.get(key))
            names.append(f"{entry['id']} ({part})" if part else str(entry["id"]))
        elif entry.get("path") or entry.get("url"):
            names.append(PurePath(str(entry.get("path") or entry.get("url"))).name)
    if names:
        names = list(dict.fromkeys(names))
        return ", ".join(names) if len(names) <= 2 else f"{names[0]} and {len(names) - 1} more files"
    # No provenance (an older dataset.json): keep hub ids, cut paths to their file names.
    return ", ".join(PurePath(part).name if "/" in part and PurePath(part).is_absolute() else part for part in source.split(", ")) if source else ""


def _file_names(provenance: list[dict]) -> str:
    """The names of the files a load read ("a.jsonl", "a.jsonl, b.jsonl", "a.jsonl and 3 more files")."""
    names = [os.path.basename(entry.get("path") or entry.get("url") or "") for entry in provenance if entry.get("kind") in ("file", "url")]
    names = [name for name in names if name]
    if len(names) > 2:
        return f"{names[0]} and {len(names) - 1} more files"
    return ", ".join(names)


def _quantiles(values: pd.Series, qs: list[float]) -> dict[str, float]:
    if len(values) == 0:
        return {}
    return {f"q{int(q * 100)}": float(values.quantile(q)) for q in qs}


# ---------------------------------------------------------------------------------------------
# Scores: how typical each response is


@dataclass(repr=False)
class ScoreResult(Displayed):
    """`table`: one row per distinct response (SCORE_SCHEMA); `card`: model, settings and counts (JSON-able).

    Skipped responses (empty, whitespace-only, unencodable) stay in the table with NaN scores,
    n_tokens 0 and the reason in `skipped` (None for scored rows). `typicality.audit_folder.save_scores`
    writes one; `load_scores` reads it back.
    """

    table: pd.DataFrame
    card: dict = field(default_factory=dict)

    def _card(self) -> Card:
        return score_result_card(self)

    @property
    def fingerprint(self) -> str | None:
        return self.card.get("fingerprint")

    @property
    def scored(self) -> pd.DataFrame:
        """The rows that have a score."""
        if "skipped" not in self.table.columns:
            return self.table
        return self.table[self.table["skipped"].isna()]


# ---------------------------------------------------------------------------------------------
# Pair design: the pairs the stats stage fits


@dataclass
class PairDesign:
    """The pair design (`frame`, one row per usable pair) and what it was built from.

    Built by `typicality.stats.pair_design.build_pairs`; see there for the frame's columns.
    `typicality.audit_folder.save_pairs` writes one; `load_pairs` reads it back.
    """

    frame: pd.DataFrame
    dataset: str | None = None
    model: str | None = None  # the scores' model fingerprint
    seed: int = 0
    ties: str = "drop"
    construction: str = "distinct"  # how pairs were formed from the data (see build_pairs)
    ratings: list[str] = field(default_factory=list)
    correctness: str | None = None
    metadata: list[str] = field(default_factory=list)  # the comparisons' own columns carried along
    slice_columns: list[str] = field(default_factory=list)  # metadata columns sliced on by default
    accounting: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    def with_frame(self, frame: pd.DataFrame) -> PairDesign:
        """The same design metadata over another set of rows (a slice, a resample)."""
        return dataclasses.replace(self, frame=frame)

    def settings(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "frame"}
