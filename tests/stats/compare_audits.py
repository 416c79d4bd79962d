"""Finished audit folders for the comparison tests, written through the contract from the simulator.

- `model_audits`: one simulated dataset scored by two "reference models": the simulator's
  typicality, and the same plus independent noise (a stand-in for a quantized model);
- `dataset_audits`: simulated datasets with different alphas, one audit each;
- `label_source_audits`: one PKU-SafeRLHF-style file (the same pairs, two label columns: the
  index of the better and of the safer response), read twice by the `pairs` loader with
  `--label`, scored by the simulator's typicality.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from scipy.special import expit

from tests.data.files import write_jsonl
from typicality.audit_folder import SCORES_FILE, save_analysis, save_data, save_scores
from typicality.data import load
from typicality.domain import ScoreResult
from typicality.stats import analyze_with_design, simulate


def write_audit(folder: Path, data, scores: ScoreResult) -> Path:
    """A finished audit folder as `typicality audit` writes it (data, scores, pairs.parquet, results.json), minus the report."""
    save_data(data, folder)
    save_scores(scores, folder / SCORES_FILE)
    save_analysis(*analyze_with_design(data, scores, seed=0), folder)
    return folder


def noisy_scores(scores: ScoreResult, noise: float, seed: int, name: str) -> ScoreResult:
    """The same responses under another "model": typicality plus N(0, noise) per response."""
    table = scores.table.copy()
    rng = np.random.default_rng(seed)
    table["mean_logprob"] = table["mean_logprob"] + rng.normal(0.0, noise, size=len(table))
    table["sum_logprob"] = table["mean_logprob"] * table["n_tokens"]
    table["model"] = name
    return ScoreResult(table, {**scores.card, "model": name, "fingerprint": name})


def model_audits(root: Path, *, alpha: float = 0.6, prompts: int = 120, per_prompt: int = 3, noise: float = 0.3, seed: int = 3) -> tuple[Path, Path]:
    data, scores = simulate(alpha, prompts, per_prompt, seed=seed, rating_levels=5)
    first = write_audit(root / "model-a", data, scores)
    second = write_audit(root / "model-b", data, noisy_scores(scores, noise, seed + 100, "simulated-noisy"))
    return first, second


def dataset_audits(root: Path, alphas=(0.2, 0.6, 0.9), *, prompts: int = 150, per_prompt: int = 3) -> list[Path]:
    folders = []
    for index, alpha in enumerate(alphas):
        data, scores = simulate(alpha, prompts, per_prompt, seed=10 + index, rating_levels=5)
        data = dataclasses.replace(data, subset=f"part-{index}")
        folders.append(write_audit(root / f"dataset-{index}", data, scores))
    return folders


def pku_style_file(path: Path, *, alpha_better: float = 0.8, alpha_safer: float = -0.4, prompts: int = 150, per_prompt: int = 3, seed: int = 21):
    """A file in PKU-SafeRLHF's layout over simulated responses, and their scores.

    Every within-prompt pair of a simulation is one row (prompt, response_0, response_1); `better_response_id`
    is the simulation's own judgement (alpha_better); `safer_response_id` copies it for a random 60% of pairs and
    is otherwise its own draw with alpha_safer: P(response_0 safer) = sigmoid(alpha_safer * (l_0 - l_1) + u), u a per-pair shift.
    """
    data, scores = simulate(alpha_better, prompts, per_prompt, seed=seed)
    text = data.responses.set_index("response_id")
    typicality = scores.table.set_index("response_id")["mean_logprob"]
    rng = np.random.default_rng(seed + 1)
    rows = []
    for pair in data.comparisons.itertuples(index=False):
        delta = typicality[pair.response_a] - typicality[pair.response_b]
        better_first = pair.label == 1.0
        # Safety often sides with helpfulness (60% of pairs copy it); otherwise its own draw, with alpha_safer.
        safer_first = better_first if rng.random() < 0.6 else rng.random() < expit(alpha_safer * delta + rng.normal(0.0, 0.5))
        rows.append(
            {
                "prompt": text.loc[pair.response_a, "prompt"],
                "response_0": text.loc[pair.response_a, "response"],
                "response_1": text.loc[pair.response_b, "response"],
                "better_response_id": 0 if better_first else 1,
                "safer_response_id": 0 if safer_first else 1,
            }
        )
    return write_jsonl(path, rows), scores


def label_source_audits(root: Path, **options) -> tuple[Path, Path, ScoreResult]:
    """Two finished audits of one PKU-style file: labels from better_response_id, then from safer_response_id."""
    root.mkdir(parents=True, exist_ok=True)
    path, scores = pku_style_file(root / "pku.jsonl", **options)
    columns = {"response_a": "response_0", "response_b": "response_1"}
    folders = []
    for preference in ("better", "safer"):
        data = load("pairs", data_files=path, columns=columns, label=f"{preference}_response_id=0:a,1:b")
        folders.append(write_audit(root / preference, data, scores))
    return folders[0], folders[1], scores
