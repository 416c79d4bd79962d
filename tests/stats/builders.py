"""Small hand-built datasets and score tables for the stats tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from typicality.data.build import from_pairs, from_ratings
from typicality.domain import Accounting, PreferenceData, response_id_for


def pairwise(prompts, chosen, rejected, labels=None, **metadata) -> PreferenceData:
    """Judged pairs; label 1 (a = chosen preferred) unless given."""
    labels = [1.0] * len(prompts) if labels is None else labels
    return from_pairs("hand-built", prompts, chosen, rejected, labels, Accounting(rows_read=len(prompts)), pair_metadata=metadata or None)


def rated(rows: list[dict]) -> PreferenceData:
    """Rated responses: each row has prompt, response, helpfulness, correctness."""
    frame = pd.DataFrame(rows)
    return from_ratings("hand-rated", frame, "helpfulness", ["helpfulness", "correctness"], Accounting(rows_read=len(frame)), correctness="correctness")


def scores_table(data: PreferenceData, mean_logprob: dict[str, float], n_tokens: dict[str, int] | None = None, model: str = "test-model") -> pd.DataFrame:
    """A scores table for the responses named by their text: {response text: mean log-prob}."""
    rows = []
    for _, response in data.responses.iterrows():
        if response["response"] not in mean_logprob:
            continue  # left unscored on purpose
        mean = mean_logprob[response["response"]]
        tokens = (n_tokens or {}).get(response["response"], 10)
        rows.append(
            {
                "prompt_id": response["prompt_id"],
                "response_id": response_id_for(response["prompt"], response["response"]),
                "n_tokens": tokens,
                "sum_logprob": mean * tokens,
                "mean_logprob": mean,
                "truncated": False,
                "model": model,
            }
        )
    return pd.DataFrame(rows)


def random_pairwise(n_prompts: int, seed: int = 0, alpha: float = 1.0, pairs_per_prompt: int = 1) -> tuple[PreferenceData, pd.DataFrame]:
    """Pairwise data whose labels follow a logit in delta mean log-prob (chosen listed first)."""
    rng = np.random.default_rng(seed)
    prompts, first, second, labels, typicality, tokens = [], [], [], [], {}, {}
    for p in range(n_prompts):
        for k in range(pairs_per_prompt):
            a, b = f"response {p}.{k}.a", f"response {p}.{k}.b"
            typicality[a], typicality[b] = rng.normal(-2, 0.8), rng.normal(-2, 0.8)
            tokens[a], tokens[b] = int(rng.integers(5, 200)), int(rng.integers(5, 200))
            prefer_a = rng.random() < 1 / (1 + np.exp(-alpha * (typicality[a] - typicality[b])))
            prompts.append(f"prompt {p}")
            first.append(a if prefer_a else b)
            second.append(b if prefer_a else a)
            labels.append(1.0)
    data = pairwise(prompts, first, second, labels)
    return data, scores_table(data, typicality, tokens)
