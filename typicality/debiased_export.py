"""The export stage: a finished audit -> a training-ready, typicality-debiased preference dataset.

`export(AUDIT_DIR, OUT)` (and `typicality export`) writes TRL's preference format, `prompt`,
`chosen`, `rejected` as text, one row per decided pair (rated sources give their within-prompt
pairs, as the audit built them), plus per pair the numbers of `typicality.stats.debias`:
`margin` (for TRL's RewardTrainer, which reads a `margin` column), `weight` (reweighing),
the fitted probability that the chosen response wins with and without the typicality term,
and `flip`. A dataset card (`README.md` with a YAML header, as on the Hugging Face Hub) beside
the data records the alpha removed and how it was chosen, the reference model's fingerprint
and the source's accounting.

This module computes no statistics: it reads the audit through `typicality.audit_folder`,
asks `typicality.stats.debias` for every number, and writes files. The folder is written
only when everything is ready (staged beside `out`, then renamed: `typicality.output_folder`),
so a refused export writes nothing; `--force` replaces only an export folder holding nothing else.

Named `debiased_export` rather than `export` so that `typicality.export(...)`, the public
function, is never shadowed by a submodule of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from typicality.audit_folder import FORMAT_VERSION, AuditFolder, read_audit
from typicality.data.registry import BUILT_IN
from typicality.domain import source_name
from typicality.errors import TypicalityError
from typicality.output_folder import FolderKind, claim_output, writing
from typicality.safe_text import printable
from typicality.stats.debias import AlphaChoice, DebiasModel, choice_record, choose_alpha, fit_debias_model, pair_terms
from typicality.stats.memorization import MEMORIZED_PROBABILITY, is_memorized
from typicality.stats.pair_design import build_pairs

FORMATS = {"parquet": "train.parquet", "jsonl": "train.jsonl"}
TIE_OPTIONS = ("drop", "both")
CARD_FILE = "README.md"


def _is_export_folder(folder: Path) -> bool:
    """An export written before the ownership marker: a dataset card whose YAML header holds typicality_debiasing."""
    card = folder / CARD_FILE
    try:
        with card.open(encoding="utf-8") as handle:
            head = handle.read(20_000)
    except (OSError, UnicodeDecodeError):
        return False
    return head.startswith("---\n") and "\ntypicality_debiasing:" in head.split("\n---\n", 1)[0]


EXPORT_KIND = FolderKind(
    name="export",
    description="a debiased export",
    command="typicality export",
    suggestion="debiased",
    files=frozenset({*FORMATS.values(), CARD_FILE}),
    recognise=_is_export_folder,
)
# The export's columns, in order (TRL reads prompt, chosen, rejected and margin; the rest ride along).
COLUMNS = [
    "prompt",
    "chosen",
    "rejected",
    "margin",
    "weight",
    "p_chosen_with_typicality",
    "p_chosen_without_typicality",
    "flip",
    "tie",
    "typicality_chosen",
    "typicality_rejected",
    "chosen_memorized",
    "rejected_memorized",
    "prompt_id",
    "chosen_id",
    "rejected_id",
    "comparison",
]


@dataclass
class ExportResult:
    """What `export` wrote, and the choices behind it."""

    folder: Path
    data_file: Path
    card_file: Path
    n_rows: int
    n_flips: int
    choice: AlphaChoice
    model: DebiasModel


def export(
    audit_dir: str | Path,
    out: str | Path,
    *,
    format: str = "parquet",
    alpha: str | float | None = None,
    estimate: str | None = None,
    ties: str = "drop",
    force: bool = False,
) -> ExportResult:
    """Write a debiased preference dataset (TRL's format + margin, weight, probabilities, flip) and its card into `out`.

    `alpha`: None (the headline fit's, quality-controlled when the data rates quality),
    "ci-low", "ci-high" or a number; `estimate`: another results.json estimate id; `ties`:
    "drop" (default) or "both" (each tie written once each way, which is the tie's
    Bradley-Terry likelihood up to a factor 2).
    """
    if format not in FORMATS:
        raise TypicalityError(f"--format must be one of {', '.join(FORMATS)}, got '{format}'.")
    if ties not in TIE_OPTIONS:
        raise TypicalityError(f"--tie-rows must be one of {', '.join(TIE_OPTIONS)}, got '{ties}'.")
    out = Path(out)
    claim = claim_output(out, EXPORT_KIND, force=force, inputs=[audit_dir])  # the audit, or a folder holding it, is refused
    audit = read_audit(audit_dir)
    frame, choice, model = debiased_pairs(audit, alpha=alpha, estimate=estimate, ties=ties)
    card = dataset_card(audit, choice, model, frame, FORMATS[format], ties)
    with claim.staged() as folder:
        _write_folder(folder, frame, card, format)
    return ExportResult(out, out / FORMATS[format], out / CARD_FILE, int(len(frame)), int(frame["flip"].sum()), choice, model)


def debiased_pairs(
    audit: AuditFolder, *, alpha: str | float | None = None, estimate: str | None = None, ties: str = "drop"
) -> tuple[pd.DataFrame, AlphaChoice, DebiasModel]:
    """The export's rows (COLUMNS), the alpha choice and the debiasing model, from an audit read through the contract."""
    folder = audit.folder or "the audit"
    for name, value in (("pairs.parquet", audit.pairs), ("the data files (responses.parquet, comparisons.parquet, dataset.json)", audit.data)):
        if value is None:
            why = "; ".join(f"{file}: {reason}" for file, reason in audit.missing.items()) or "absent"
            raise TypicalityError(f"{folder} lacks {name} ({why}), which the export needs for the texts and pairs; re-run `typicality audit` into it.")
    choice = choose_alpha(audit.results, alpha=alpha, estimate=estimate)
    model = fit_debias_model(audit.pairs, choice)
    design = audit.pairs
    if ties == "both" and design.ties != "half":
        if audit.scores is None:
            raise TypicalityError(f"{folder} dropped ties when it was fitted and has no readable scores.parquet to rebuild them; export with --tie-rows drop.")
        # Same seed, so every decided pair keeps its orientation; ties come back with label 1/2.
        design = build_pairs(audit.data, audit.scores, seed=design.seed, ties="half")
    rows = _oriented_rows(design.frame, ties)
    columns = [model.typicality_column, *model.control_columns]
    deltas = pd.DataFrame({column: rows[column].to_numpy(dtype=float) * rows["sign"].to_numpy() for column in columns}, index=rows.index)
    terms = pair_terms(deltas, model)
    texts = _texts(audit.data)
    chosen_id = np.where(rows["sign"] > 0, rows["response_a"], rows["response_b"])
    rejected_id = np.where(rows["sign"] > 0, rows["response_b"], rows["response_a"])
    side = choice.typicality  # mean_logprob or sum_logprob
    typicality_chosen = np.where(rows["sign"] > 0, rows[f"{side}_a"], rows[f"{side}_b"]).astype(float)
    typicality_rejected = np.where(rows["sign"] > 0, rows[f"{side}_b"], rows[f"{side}_a"]).astype(float)
    mean_chosen = np.where(rows["sign"] > 0, rows["mean_logprob_a"], rows["mean_logprob_b"]).astype(float)
    mean_rejected = np.where(rows["sign"] > 0, rows["mean_logprob_b"], rows["mean_logprob_a"]).astype(float)
    frame = pd.DataFrame(
        {
            "prompt": texts.prompt(rows["prompt_id"]),
            "chosen": texts.response(chosen_id),
            "rejected": texts.response(rejected_id),
            "margin": terms["margin"].to_numpy(),
            "weight": terms["weight"].to_numpy(),
            "p_chosen_with_typicality": terms["p_first_with_typicality"].to_numpy(),
            "p_chosen_without_typicality": terms["p_first_without_typicality"].to_numpy(),
            "flip": terms["flip"].to_numpy(dtype=bool),
            "tie": rows["label"].to_numpy() == 0.5,
            "typicality_chosen": typicality_chosen,
            "typicality_rejected": typicality_rejected,
            "chosen_memorized": is_memorized(mean_chosen),
            "rejected_memorized": is_memorized(mean_rejected),
            "prompt_id": rows["prompt_id"].astype(str).to_numpy(),
            "chosen_id": chosen_id.astype(str),
            "rejected_id": rejected_id.astype(str),
            "comparison": rows["comparison"].to_numpy(dtype="int64"),
        }
    )
    return frame[COLUMNS].reset_index(drop=True), choice, model


def _oriented_rows(frame: pd.DataFrame, ties: str) -> pd.DataFrame:
    """Each decided pair once, with `sign` +1 when a is the chosen response; ties once each way when kept."""
    decided = frame[frame["label"] != 0.5].assign(sign=np.where(frame.loc[frame["label"] != 0.5, "label"] == 1.0, 1.0, -1.0))
    if ties != "both":
        return decided.sort_values("comparison", kind="stable")
    tied = frame[frame["label"] == 0.5]
    both = pd.concat([decided, tied.assign(sign=1.0), tied.assign(sign=-1.0)])
    return both.sort_values(["comparison", "sign"], ascending=[True, False], kind="stable")


class _Texts:
    """Prompt and response texts by id, from the data's responses table."""

    def __init__(self, responses: pd.DataFrame) -> None:
        unique = responses.drop_duplicates("response_id")
        self._responses = pd.Series(unique["response"].to_numpy(), index=unique["response_id"].astype(str).to_numpy())
        prompts = responses.drop_duplicates("prompt_id")
        self._prompts = pd.Series(prompts["prompt"].to_numpy(), index=prompts["prompt_id"].astype(str).to_numpy())

    def response(self, ids) -> np.ndarray:
        return self._lookup(self._responses, ids, "response")

    def prompt(self, ids) -> np.ndarray:
        return self._lookup(self._prompts, ids, "prompt")

    @staticmethod
    def _lookup(table: pd.Series, ids, what: str) -> np.ndarray:
        keys = pd.Index(np.asarray(ids).astype(str))
        positions = table.index.get_indexer(keys)
        if (positions < 0).any():
            raise TypicalityError(
                f"The pair design names {int((positions < 0).sum())} {what} id(s) absent from the audit's "
                f"data (e.g. {keys[positions < 0][0]}); the folder is inconsistent: re-run the audit."
            )
        return table.to_numpy()[positions]


def _texts(data) -> _Texts:
    return _Texts(data.responses)


# ---------------------------------------------------------------------------------------------
# The dataset card

# The licence of each hub dataset a built-in loader reads, as its Hub card states it (the card's `license` key);
# an export is derived data, so it carries its source's licence. Sources not listed here: "unknown" (check them).
SOURCE_LICENSES = {
    "Anthropic/hh-rlhf": "mit",  # data/hh-rlhf/LICENSE
    "nvidia/HelpSteer": "cc-by-4.0",
    "nvidia/HelpSteer2": "cc-by-4.0",
    "openbmb/UltraFeedback": "mit",
    "HuggingFaceH4/ultrafeedback_binarized": "mit",
}


def source_datasets(audit: AuditFolder) -> list[str]:
    """The hub datasets the export derives from: those the load read, or the registered loader's (a local copy of its files)."""
    provenance = audit.data.provenance if audit.data is not None else audit.results.dataset.provenance
    hub = [str(entry["id"]) for entry in provenance or [] if entry.get("kind") == "hub" and entry.get("id")]
    if hub:
        return list(dict.fromkeys(hub))
    spec = next((spec for spec in BUILT_IN if spec.name == audit.results.dataset.name), None)
    return [spec.hub_id] if spec is not None and spec.hub_id else []


def source_license(sources: list[str]) -> str:
    """The licence of the source(s): one Hub licence id, or "unknown" (none known, or several that differ)."""
    licenses = {SOURCE_LICENSES.get(source, "unknown") for source in sources}
    return licenses.pop() if len(licenses) == 1 else "unknown"


TRAINING_SNIPPET = """\
import numpy as np
import torch
from datasets import load_dataset
from trl import RewardConfig, RewardTrainer

train = load_dataset("{loader}", data_files="{data_file}", split="train")

# margin: TRL's RewardTrainer reads a `margin` column by itself; its loss becomes
# -logsigmoid(r_chosen - r_rejected - margin), so the typicality term is an offset, not learned.
args = RewardConfig(output_dir="reward-model", bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported())
trainer = RewardTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)

# weight: no TRL trainer reads a `weight` column (DPOTrainer and RewardTrainer drop it with the other
# unused columns). The smallest way that works with any trainer: draw the rows with probability
# proportional to their weight; the expected loss over the draw is the weighted loss.
rng = np.random.default_rng(0)
weight = np.asarray(train["weight"])
reweighted = train.select(rng.choice(len(train), size=len(train), p=weight / weight.sum()))
# e.g. trl.DPOTrainer(model=policy, args=trl.DPOConfig(output_dir="dpo"), train_dataset=reweighted, processing_class=tokenizer)
"""


def dataset_card(audit: AuditFolder, choice: AlphaChoice, model: DebiasModel, frame: pd.DataFrame, data_file: str, ties: str) -> str:
    """README.md: a YAML header the Hub reads (configs, tags) plus the debiasing record; then prose."""
    results = audit.results
    dataset = results.dataset
    model_card = audit.score_card or {}
    title = dataset.title or dataset.name or "preference data"
    n_flips = int(frame["flip"].sum())
    sources = source_datasets(audit)
    named_source = source_name(dataset.provenance, dataset.source or "")  # a hub id or file name, never a machine's path
    header = {
        "pretty_name": f"{title} (typicality-debiased)",
        "license": source_license(sources),
        "source_datasets": sources,
        "tags": ["preference", "reward-modeling", "rlhf", "typicality-debiased"],
        "size_categories": [_size_category(len(frame))],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": data_file}]}],
        "typicality_debiasing": {
            **{key: _plain(value) for key, value in choice_record(choice).items()},
            "controls_refitted": model.controls,
            "coefficients_with_typicality": model.beta,
            "coefficients_without_typicality": model.gamma,
            "ties": ties,
            "n_rows": int(len(frame)),
            "n_flips": n_flips,
            "model": model_card.get("model"),
            "model_fingerprint": model_card.get("fingerprint"),
            "source": {**{key: getattr(dataset, key) for key in ("name", "subset", "split", "kind", "preference", "correctness")}, "source": named_source},
            "source_accounting": dataset.accounting,
            "pair_accounting": results.pairs,
            "audit_format_version": FORMAT_VERSION,
        },
    }
    yaml_text = yaml.safe_dump(_plain(header), sort_keys=False, allow_unicode=True, width=100)
    weights = frame["weight"].dropna()
    body = f"""# {title} (typicality-debiased)

Preference pairs from {named_source or dataset.name or 'the audited dataset'}, written by
`typicality export` from an audit with the reference model `{model_card.get('model') or 'unknown'}`
(fingerprint `{model_card.get('fingerprint') or 'unknown'}`). Columns `prompt`, `chosen`,
`rejected` are TRL's preference format; the rest remove the annotators' typicality bias.

## The alpha removed

alpha = {choice.alpha:.4f} per nat of mean log-likelihood ({choice.typicality}): {choice.reason}.
The fit's own estimate is {choice.estimate_alpha:.4f} (95% CI {_number(choice.ci_low)} to {_number(choice.ci_high)});
the margin carries that uncertainty, so `--alpha ci-low` / `ci-high` exports are the sensitivity check.
Controls refitted with the typicality term fixed: {', '.join(model.controls) or 'none'}.

## Columns

| column | meaning |
|---|---|
| `margin` | `-alpha * (typicality_chosen - typicality_rejected)`: TRL's RewardTrainer computes `-logsigmoid(r_chosen - r_rejected - margin)`, so the typicality term becomes an offset and is not learned. Read by TRL's RewardTrainer since v0.7.2 (a `margin` column; see docs/debiasing.md). |
| `weight` | reweighing weight P(y given the controls) / P(y given the controls and typicality) (Kamiran & Calders 2012), mean about 1 (here {weights.mean():.3f}; Kish effective size {(weights.sum() ** 2 / (weights**2).sum()) if len(weights) else 0:.0f} of {len(weights)}). Use as sample weights. |
| `p_chosen_with_typicality` | fitted probability that `chosen` wins, with the typicality term |
| `p_chosen_without_typicality` | the same without it (exactly 0.5 where the model has no controls or they are equal) |
| `flip` | removing typicality changes which response the model favours ({n_flips} of {len(frame)} rows) |
| `tie` | a tied pair, written once each way (only with `--tie-rows both`) |
| `typicality_chosen`, `typicality_rejected` | {choice.typicality} of each response under the reference model |
| `chosen_memorized`, `rejected_memorized` | mean token probability at or above {MEMORIZED_PROBABILITY} (likely memorized text) |
| `prompt_id`, `chosen_id`, `rejected_id`, `comparison` | ids back into the audit folder |

## Loading

```python
from datasets import load_dataset
dataset = load_dataset("{'parquet' if data_file.endswith('.parquet') else 'json'}", data_files="{data_file}", split="train")
```

## Training on it

```python
{TRAINING_SNIPPET.format(loader='parquet' if data_file.endswith('.parquet') else 'json', data_file=data_file)}```

`model` and `tokenizer` are yours (a sequence-classification model with one output for the reward model).
TRL's `DPOTrainer` has no per-row weight and ignores `weight`; for a weighted loss without resampling,
override the trainer's `compute_loss` to multiply each row's loss by its weight.

## Licence

{_license_sentence(sources)}

The derivation of the margin's sign and scale, and what each column assumes, is in the
`typicality` repository's docs/debiasing.md.
"""  # noqa: E501 - the card's Markdown table rows are one line each
    return printable(f"---\n{yaml_text}---\n\n{body}")  # names from the data: no control character reaches the card


def _license_sentence(sources: list[str]) -> str:
    if not sources:
        return "Derived from the user's own files: their licence applies (`license: unknown` above until you set it)."
    license = source_license(sources)
    named = ", ".join(f"`{source}`" for source in sources)
    if license == "unknown":
        return f"Derived from {named}, whose licence applies: check its dataset card (`license: unknown` above until you set it)."
    return f"Derived from {named}, released under `{license}`; this derived data carries the same licence."


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def _number(value) -> str:
    return "not available" if value is None else f"{float(value):.4f}"


def _plain(value):
    """YAML-safe plain types (numpy scalars to Python, tuples to lists)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------------
# Writing


def _write_folder(folder: Path, frame: pd.DataFrame, card: str, format: str) -> None:
    """The data file and its card, into the staging folder (`claim.staged()` renames it into place)."""
    data_path = folder / FORMATS[format]
    with writing(data_path):
        if format == "parquet":
            frame.to_parquet(data_path, index=False)
        else:
            frame.to_json(data_path, orient="records", lines=True, force_ascii=False)
        (folder / CARD_FILE).write_text(card, encoding="utf-8")
