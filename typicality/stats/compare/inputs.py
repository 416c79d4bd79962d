"""The audits a comparison compares, as the pipeline read them (typed results and pair designs, no files here), checked and classified.

Which data an audit read is its provenance (`dataset_identity`): the hub dataset with its
data_dir or config, split and resolved revision; each local file's sha256 (not its path, so a
copy is the same data and two files are two datasets); a simulation's parameters. Three kinds:
- models: one dataset, the same pairs AND the same labels, a different reference model per audit;
- labels (label sources): the same pairs judged by different sources (labels that differ),
  e.g. humans and an LLM judge, or PKU-SafeRLHF's better and safer;
- datasets: different data, one audit each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from typicality.comparison_results import AuditDataset, AuditModel, ComparedAuditEntry, ComparedEstimate
from typicality.domain import PairDesign
from typicality.errors import TypicalityError
from typicality.results import AuditResults, Estimate
from typicality.stats.pair_design import TYPICALITY_COLUMNS, control_column, select_slice

KINDS = ("auto", "models", "datasets", "labels")
EFFECTS = ("headline", "length-controlled")
# The compared fit's numbers comparison.json repeats for each audit, in this order.
DESCRIBED_ESTIMATE_FIELDS = tuple(name for name in ComparedEstimate.__dataclass_fields__)


@dataclass(frozen=True)
class ComparedAudit:
    """One audit of a comparison, as the pipeline read it (`typicality.pipeline.read_compared_audits`): its label, the
    folder it came from (as comparison.json lists it), its typed results and pair design, and the estimate compared."""

    label: str
    folder: str
    results: AuditResults
    pairs: PairDesign
    estimate: Estimate  # the fit compared: the audit's headline or its length-controlled twin

    @classmethod
    def of(cls, label: str, folder, results: AuditResults, pairs: PairDesign, effect: str = "headline") -> "ComparedAudit":
        """The audit with the estimate `effect` names (its headline, or the headline's length-controlled twin)."""
        return cls(label, str(folder), results, pairs, compared_estimate(results, folder, effect))

    @property
    def dataset_key(self) -> tuple:
        return dataset_identity(self.results.dataset)

    @property
    def fingerprint(self) -> str | None:
        return (self.results.model or {}).get("fingerprint")

    def describe(self) -> ComparedAuditEntry:
        """The audit as comparison.json lists it: label, folder, dataset, reference model and the compared fit's numbers."""
        dataset, model = self.results.dataset, self.results.model or {}
        return ComparedAuditEntry(
            label=self.label,
            folder=self.folder,
            dataset=AuditDataset(**{key: getattr(dataset, key) for key in ("name", "title", "subset", "split", "n_prompts", "preference")}),
            model=AuditModel(name=model.get("model") or model.get("name"), fingerprint=model.get("fingerprint")),
            estimate=ComparedEstimate(**{key: getattr(self.estimate, key) for key in DESCRIBED_ESTIMATE_FIELDS}),
        )


def compared_estimate(results: AuditResults, folder, effect: str) -> Estimate:
    """The fit `effect` names in an audit's results; one clear message when the audit has none."""
    if effect not in EFFECTS:
        raise TypicalityError(f"--effect must be one of {', '.join(EFFECTS)}, got '{effect}'.")
    estimate = results.headline_estimate if effect == "headline" else results.length_controlled_estimate
    if estimate is None:
        raise TypicalityError(
            f"{folder}: results.json names no {effect} estimate, so there is nothing to compare; re-run `typicality fit {folder}` with the default fits."
        )
    return estimate


def check_labels(audits: list[ComparedAudit]) -> None:
    """At least two audits, each with its own label."""
    if len(audits) < 2:
        raise TypicalityError(
            f"compare needs at least two audits, got {len(audits)}: give the "
            "audits to compare, e.g. `typicality compare audit-a audit-b --out comparison`."
        )
    labels = [item.label for item in audits]
    if len(set(labels)) < len(labels):
        shared = sorted({label for label in labels if labels.count(label) > 1})
        raise TypicalityError(f"Two audits share the label {', '.join(shared)}: give distinct --labels.")


def dataset_identity(dataset) -> tuple:
    """Which data an audit read: its loader, subset and split, and its provenance (hub id, data_dir/config, split and
    revision; each local file's sha256, not its path; a URL), or, without provenance (a simulation), its source in words,
    which holds the simulation's parameters."""
    entries = sorted(
        tuple(sorted((key, str(value)) for key, value in entry.items() if key not in ("path", "bytes"))) for entry in dataset.provenance or []
    )
    return (dataset.name, dataset.subset, dataset.split, tuple(entries) if entries else (dataset.source or "",))


def classify(audits: list[ComparedAudit], kind: str = "auto") -> str:
    """'models' (one dataset, the same pairs and labels, several reference models), 'labels' (the same pairs, different
    labels) or 'datasets' (one audit per dataset)."""
    if kind not in KINDS:
        raise TypicalityError(f"--kind must be one of {', '.join(KINDS)}, got '{kind}'.")
    same_dataset = len({item.dataset_key for item in audits}) == 1
    if kind == "auto":
        same_model = len({item.fingerprint for item in audits}) == 1
        kind = "models" if same_dataset else "datasets"
        if same_dataset and same_model and any(label_differences(audits[0], other)[0] for other in audits[1:]):
            kind = "labels"
    if kind == "models":
        check_same_pairs(audits)
        fingerprints = [item.fingerprint for item in audits]
        if len(set(fingerprints)) < len(fingerprints):
            raise TypicalityError(
                f"Audits {', '.join(item.label for item in audits)} are of the same pairs scored by the same model ({fingerprints[0]}): "
                "a model comparison needs a different reference model in each audit."
            )
        check_same_labels(audits)
    elif kind == "labels":
        for other in audits[1:]:
            differ, shared = label_differences(audits[0], other)
            if shared and not differ:
                raise TypicalityError(
                    f"{audits[0].label} and {other.label} label all {shared} of their shared pairs alike: they are not different label "
                    "sources. Compare different reference models with --kind models."
                )
    else:
        keys = [item.dataset_key for item in audits]
        repeated = sorted({item.results.dataset.title or item.results.dataset.name for item, key in zip(audits, keys) if keys.count(key) > 1})
        if repeated:
            raise TypicalityError(
                f"A dataset comparison takes one audit per dataset, but {', '.join(repeated)} appears more than once (the same data by its "
                "provenance): compare its audits with each other as a model comparison (--kind models) or as label sources (--kind labels), "
                "then one audit per dataset."
            )
    return kind


def oriented_labels(frame: pd.DataFrame) -> pd.Series:
    """Each pair's label (its judgements' mean) in one fixed orientation, a = the response with the smaller id: comparable across audits."""
    keep = frame["response_a"].astype(str).to_numpy() < frame["response_b"].astype(str).to_numpy()
    label = frame["label"].to_numpy(dtype=float)
    return pd.Series(np.where(keep, label, 1.0 - label), index=pair_key(frame).to_numpy()).groupby(level=0).mean()


def label_differences(first: ComparedAudit, other: ComparedAudit) -> tuple[int, int]:
    """(pairs the two audits label differently, pairs they share)."""
    a, b = oriented_labels(first.pairs.frame).align(oriented_labels(other.pairs.frame), join="inner")
    return int(np.sum(~np.isclose(a.to_numpy(), b.to_numpy()))), int(len(a))


def check_same_labels(audits: list[ComparedAudit]) -> None:
    """A model comparison compares reference models on the same judgements: the audits' labels must agree on every shared pair."""
    first = audits[0]
    for other in audits[1:]:
        differ, shared = label_differences(first, other)
        if differ:
            raise TypicalityError(
                f"A model comparison needs the same labels in every audit, but {first.label} and {other.label} label {differ} of their "
                f"{shared} shared pairs differently ({differ / shared:.1%}): these are different judgements, not the same ones under two "
                "models. Compare them as label sources (--kind labels)."
            )


def shared_pair_counts(audits: list[ComparedAudit]) -> list[tuple[str, str, int]]:
    """(label, label, pairs both audits hold) for every two audits that share pairs."""
    keys = [set(pair_key(item.pairs.frame)) for item in audits]
    out = []
    for i in range(len(audits)):
        for j in range(i + 1, len(audits)):
            shared = len(keys[i] & keys[j])
            if shared:
                out.append((audits[i].label, audits[j].label, shared))
    return out


def pair_key(frame: pd.DataFrame) -> pd.Series:
    """The pair's identity regardless of orientation: the two response ids, sorted."""
    a, b = frame["response_a"].astype(str), frame["response_b"].astype(str)
    return pd.Series(np.where(a < b, a + "|" + b, b + "|" + a), index=frame.index)


def check_same_pairs(audits: list[ComparedAudit]) -> None:
    """A model comparison needs the same judged pairs in every audit; say how they differ otherwise."""
    first = audits[0]
    first_keys = set(pair_key(first.pairs.frame))
    for other in audits[1:]:
        keys = set(pair_key(other.pairs.frame))
        if keys != first_keys:
            raise TypicalityError(
                f"A model comparison needs audits of the same pairs, but {first.label} and {other.label} differ: "
                f"{len(first_keys - keys)} pairs only in {first.label}, {len(keys - first_keys)} only in {other.label}, {len(keys & first_keys)} shared. "
                "Audit the same dataset with the same --limit and --seed under each model (or compare different datasets with --kind datasets)."
            )


def aligned_pairs(audits: list[ComparedAudit], spec: Estimate) -> list[pd.DataFrame]:
    """Each audit's pairs in the compared estimate's slice, in one common order and orientation (the first audit's).

    Columns: key, prompt_id, response_a, response_b, label, delta (the spec's typicality),
    typicality_a, typicality_b, and one column per control. Only pairs complete in every audit are kept.
    """
    delta_column = TYPICALITY_COLUMNS[spec.typicality]
    side = spec.typicality
    controls = [control_column(name) for name in spec.controls]
    frames = []
    for item in audits:
        rows = select_slice(item.pairs, spec.slice).copy()
        rows["key"] = pair_key(rows).to_numpy()
        frames.append(rows.set_index("key"))
    reference = frames[0]
    common = reference.index
    for frame in frames[1:]:
        common = common.intersection(frame.index)
    out = []
    for frame in frames:
        rows = frame.loc[common]
        flip = rows["response_a"].to_numpy() != reference.loc[common, "response_a"].to_numpy()
        sign = np.where(flip, -1.0, 1.0)
        aligned = pd.DataFrame(
            {
                "key": common.to_numpy(),
                "prompt_id": rows["prompt_id"].astype(str).to_numpy(),
                "response_a": np.where(flip, rows["response_b"], rows["response_a"]),
                "response_b": np.where(flip, rows["response_a"], rows["response_b"]),
                "label": np.where(flip, 1.0 - rows["label"].to_numpy(dtype=float), rows["label"].to_numpy(dtype=float)),
                "delta": sign * rows[delta_column].to_numpy(dtype=float),
                "typicality_a": np.where(flip, rows[f"{side}_b"], rows[f"{side}_a"]).astype(float),
                "typicality_b": np.where(flip, rows[f"{side}_a"], rows[f"{side}_b"]).astype(float),
            }
        )
        for column in controls:
            aligned[column] = sign * rows[column].to_numpy(dtype=float)
        out.append(aligned)
    complete = np.logical_and.reduce([frame[["label", "delta", *controls]].notna().all(axis=1).to_numpy() for frame in out])
    return [frame[complete].reset_index(drop=True) for frame in out]
