"""Finished audit folders for the comparison tests, written through the contract from the simulator.

- `model_audits`: one simulated dataset scored by two "reference models": the simulator's
  typicality, and the same plus independent noise (a stand-in for a quantized model);
- `dataset_audits`: simulated datasets with different alphas, one audit each.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from typicality.audit_folder import SCORES_FILE, save_data, save_scores
from typicality.domain import ScoreResult
from typicality.stats import analyze, simulate


def write_audit(folder: Path, data, scores: ScoreResult) -> Path:
    """A finished audit folder as `typicality audit` writes it (data, scores, pairs.parquet, results.json), minus the report."""
    save_data(data, folder)
    save_scores(scores, folder / SCORES_FILE)
    analyze(data, scores, seed=0).save(folder)
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
