"""`--pair-construction paper`: the published script's construction (every within-prompt pair of rows, repeats included,
oriented by dataset order, with an intercept), checked against an independent re-implementation."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from typicality.data.build import from_ratings
from typicality.domain import Accounting, prompt_id_for, response_id_for
from typicality.errors import TypicalityError
from typicality.stats import TypicalityBias, analyze, analyze_with_design
from typicality.stats.paper_pairs import build_paper_pairs

HELPSTEER_COLUMNS = ["prompt", "response", "helpfulness", "correctness", "coherence", "complexity", "verbosity"]


def helpsteer_rows(n_prompts: int = 60, seed: int = 0) -> pd.DataFrame:
    """HelpSteer-schema rows: 2-5 responses per prompt, about one prompt in four repeating a response with new ratings."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        texts = [f"answer {k} to question {p}" for k in range(int(rng.integers(2, 5)))]
        if rng.random() < 0.25:
            texts.append(texts[0])  # the same response again, rated again (HelpSteer has such rows)
        for text in texts:
            typical = rng.normal()
            rows.append(
                {
                    "prompt": f"question {p}?",
                    "response": text,
                    "helpfulness": int(np.clip(np.round(2 + 0.8 * typical + rng.normal()), 0, 4)),
                    "correctness": int(rng.integers(0, 5)),
                    "coherence": 4, "complexity": 2, "verbosity": 2,
                    "_typicality": typical,
                }
            )
    return pd.DataFrame(rows)


def scores_for(rows: pd.DataFrame) -> pd.DataFrame:
    """One score per distinct response (a repeated response has one score, as the scorer gives)."""
    first = rows.drop_duplicates(["prompt", "response"])
    return pd.DataFrame(
        {
            "prompt_id": [prompt_id_for(p) for p in first.prompt],
            "response_id": [response_id_for(p, r) for p, r in zip(first.prompt, first.response)],
            "n_tokens": 10 + np.arange(len(first)) % 7,
            "mean_logprob": -2 + 0.5 * first._typicality.to_numpy(),
            "sum_logprob": (-2 + 0.5 * first._typicality.to_numpy()) * (10 + np.arange(len(first)) % 7),
            "truncated": False,
            "model": "fixture",
        }
    )


def raw_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as the paper's script sees them: ids added, nothing de-duplicated."""
    out = rows.copy()
    out["prompt_id"] = [prompt_id_for(p) for p in rows["prompt"]]
    out["response_id"] = [response_id_for(p, r) for p, r in zip(rows["prompt"], rows["response"])]
    return out


def load(rows: pd.DataFrame):
    return from_ratings(
        "helpsteer-fixture", rows[HELPSTEER_COLUMNS].copy(), "helpfulness", HELPSTEER_COLUMNS[2:], Accounting(rows_read=len(rows)), correctness="correctness"
    )


def script_pairs(rows: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """An independent re-implementation of the published script: plain loops over the rows of each prompt."""
    typicality = dict(zip(scores["response_id"], scores["mean_logprob"]))
    out = []
    for _, group in rows.groupby("prompt_id", sort=False):
        records = group.to_dict("records")
        for a, b in itertools.combinations(records, 2):
            if a["helpfulness"] == b["helpfulness"]:
                continue  # the script drops ties
            out.append(
                {
                    "prompt_id": a["prompt_id"],
                    "y": 1.0 if a["helpfulness"] > b["helpfulness"] else 0.0,
                    "dl": typicality[a["response_id"]] - typicality[b["response_id"]],
                    "dc": a["correctness"] - b["correctness"],
                }
            )
    return pd.DataFrame(out)


def test_counts_by_hand_with_a_repeated_response():
    rows = pd.DataFrame(
        [
            {"prompt": "Q1?", "response": "x", "helpfulness": 3, "correctness": 3, "_typicality": 0.1},
            {"prompt": "Q1?", "response": "y", "helpfulness": 1, "correctness": 1, "_typicality": 0.2},
            {"prompt": "Q1?", "response": "x", "helpfulness": 2, "correctness": 3, "_typicality": 0.1},  # repeat, new rating
            {"prompt": "Q2?", "response": "z", "helpfulness": 4, "correctness": 4, "_typicality": 0.3},
            {"prompt": "Q2?", "response": "w", "helpfulness": 4, "correctness": 2, "_typicality": 0.4},  # tie with z
        ]
    ).assign(coherence=4, complexity=2, verbosity=2)
    data = load(rows)
    scores = scores_for(rows)
    # Rows: Q1 has 3 rows -> pairs (x,y) 3>1, (x,x') 3>2, (y,x') 1<2: 3 non-tied; Q2: (z,w) a tie, dropped.
    paper = build_paper_pairs(data, scores, rows=raw_rows(rows))
    assert len(paper) == 3
    assert list(paper.frame["label"]) == [1.0, 1.0, 0.0]
    assert not paper.frame["flipped"].any() and paper.construction == "paper"
    # The loader keeps one x under Q1: the default construction has 1 non-tied pair, the paper's on loaded data too.
    assert data.accounting.dropped["response repeated under the same prompt"] == 1
    assert len(build_paper_pairs(data, scores)) == 1
    assert "repeated" in build_paper_pairs(data, scores).accounting["note"]


def test_reproduces_the_scripts_counts_and_estimates():
    rows = helpsteer_rows()
    data, scores = load(rows), scores_for(rows)
    raw = raw_rows(rows)
    script = script_pairs(raw, scores)
    paper = build_paper_pairs(data, scores, rows=raw)
    assert len(paper) == len(script)
    assert int((paper.frame["delta_correctness"] == 0).sum()) == int((script["dc"] == 0).sum())
    assert len(paper) > len(build_paper_pairs(data, scores))  # the repeats add pairs
    groups = pd.factorize(script["prompt_id"])[0]
    for slice_name, controls, subset, columns in (
        ("all", ["correctness"], script, ["dl", "dc"]),
        ("equal-correctness", [], script[script["dc"] == 0], ["dl"]),
    ):
        X = sm.add_constant(subset[columns].to_numpy(float), prepend=False)
        reference = sm.GLM(subset["y"].to_numpy(), X, family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(subset["prompt_id"])[0], "use_correction": True}
        )
        estimate = TypicalityBias(controls=controls, slice=slice_name).fit(paper).estimate_
        assert estimate.fitted, estimate.reason
        assert estimate.alpha == pytest.approx(reference.params[0], abs=1e-8)
        assert estimate.se == pytest.approx(reference.bse[0], abs=1e-8)
        assert estimate.coefficients["intercept"]["coef"] == pytest.approx(reference.params[-1], abs=1e-8)
    assert len(groups) == len(script)


def test_analyze_takes_the_option_and_refuses_pairwise_data():
    rows = helpsteer_rows(seed=1)
    data, scores = load(rows), scores_for(rows)
    results, design = analyze_with_design(data, scores, pairs="paper", change_draws=0)
    assert design.construction == "paper"
    assert results.settings["pairs"] == "paper"
    from tests.stats.builders import random_pairwise

    pairwise, pairwise_scores = random_pairwise(20)
    with pytest.raises(TypicalityError, match="--pair-construction paper"):
        analyze(pairwise, pairwise_scores, pairs="paper")
