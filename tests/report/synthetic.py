"""A small synthetic audit folder in the contract's shape, with hostile text in every response.

Built from scratch (ratings, scores, the pair design and real statsmodels fits), so the
report's tests depend on no other stage being finished.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from typicality.data.build import from_pairs, from_ratings
from typicality.data.preference_data import Accounting, response_id_for
from typicality.data.storage import save_preference_data

# Everything a dataset text might do to an HTML page or a Markdown file.
PAYLOADS = (
    "<script>alert(1)</script>",
    "<script>document.title='PWNED'</script>",
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">",
    "</table></pre></td>",
    "{{ x }}",
    "{% if %}",
    "**bold** _em_ | a | b |",
    "[link](javascript:alert(1))",
    "&lt;b&gt; AT&T",
    "````code````",
    "<!-- comment",
)
HOSTILE_NAME = "synthetic <i>rated</i> & co"
CONTROL_COLUMNS = {"length": "delta_log_tokens", "correctness": "delta_correctness"}
WORDS = "the a model answer helpful careful honest step first then finally because therefore".split()


def hostile_text(rng: np.random.Generator, label: str, n_words: int) -> str:
    words = " ".join(rng.choice(WORDS, size=n_words))
    return f"{label}: {words}\n" + "\n".join(PAYLOADS)


def fit(pairs: pd.DataFrame, column: str, controls: list[str]) -> dict:
    """The paper's fit by hand: logit, no intercept, SEs clustered by prompt."""
    X = pairs[[column, *controls]].to_numpy(float)
    groups = pd.factorize(pairs["prompt_id"])[0]
    result = sm.GLM(pairs["label"].to_numpy(float), X, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True}
    )
    alpha, se = float(result.params[0]), float(result.bse[0])
    low, high = result.conf_int()[0]
    sd = float(pairs[column].std())
    return {
        "alpha": alpha,
        "se": se,
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(result.pvalues[0]),
        "odds_ratio_per_sd": float(np.exp(alpha * sd)),
        "win_prob_change": float(expit(alpha * sd) - expit(-alpha * sd)),
        "n_pairs": int(len(pairs)),
        "n_clusters": int(pairs["prompt_id"].nunique()),
    }


def build_audit_folder(folder: Path, *, rated: bool = True, seed: int = 7, n_prompts: int = 12, per_prompt: int = 4) -> Path:
    """Write data, scores.parquet, scoring.json, pairs.parquet and results.json into `folder`."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        prompt = f"\n\nHuman: question {p} " + hostile_text(rng, "prompt", 30) + "\n\nAssistant:"
        for r in range(per_prompt):
            n_tokens = int(rng.integers(5, 300))
            mean_logprob = -3.0 + 0.25 * np.log(n_tokens) + rng.normal(0, 0.4)
            rows.append({"prompt": prompt, "response": hostile_text(rng, f"response {p}.{r}", int(rng.integers(3, 40))), "n_tokens": n_tokens, "mean_logprob": mean_logprob})
    rated_frame = pd.DataFrame(rows)
    z = (rated_frame["mean_logprob"] - rated_frame["mean_logprob"].mean()) / rated_frame["mean_logprob"].std()
    rated_frame["helpfulness"] = np.clip(np.round(2 + 0.5 * z + rng.normal(0, 1, len(z))), 0, 4)
    rated_frame["correctness"] = np.clip(np.round(2 + 0.5 * z + rng.normal(0, 1, len(z))), 0, 4)

    accounting = Accounting(rows_read=len(rated_frame) + 3)
    accounting.drop("empty response", 2)
    accounting.drop("missing helpfulness rating", 1)
    accounting.notes.append("A note with <b>markup</b> from the loader.")
    if rated:
        data = from_ratings(HOSTILE_NAME, rated_frame, "helpfulness", ["helpfulness", "correctness"], accounting, correctness="correctness", source="local: synthetic.jsonl")
    else:
        # Pairwise: each prompt's first two responses, the first chosen when it is more helpful.
        firsts = rated_frame.groupby("prompt", sort=False).nth(0).reset_index(drop=True)
        seconds = rated_frame.groupby("prompt", sort=False).nth(1).reset_index(drop=True)
        labels = (firsts["helpfulness"].to_numpy() >= seconds["helpfulness"].to_numpy()).astype(float)
        data = from_pairs(HOSTILE_NAME, firsts["prompt"], firsts["response"], seconds["response"], labels, accounting, source="local: synthetic.jsonl")
    save_preference_data(data, folder)

    rated_frame["response_id"] = [response_id_for(p, r) for p, r in zip(rated_frame["prompt"], rated_frame["response"])]
    scores = rated_frame[rated_frame["response_id"].isin(data.responses["response_id"])]
    scores = scores.merge(data.responses[["response_id", "prompt_id"]], on="response_id")
    scores = pd.DataFrame(
        {
            "prompt_id": scores["prompt_id"],
            "response_id": scores["response_id"],
            "n_tokens": scores["n_tokens"],
            "sum_logprob": scores["mean_logprob"] * scores["n_tokens"],
            "mean_logprob": scores["mean_logprob"],
            "truncated": scores["n_tokens"] > 280,
            "model": "gemma-3-270m@abc123",
        }
    )
    scores.to_parquet(folder / "scores.parquet", index=False)
    scoring = {
        "model": "gemma-3-270m",
        "fingerprint": "abc123",
        "bos": "added once",
        "chat_template": False,
        "dtype": "float32",
        "device": "cpu",
        "truncated_prompts": 1,
        "truncated_responses": int(scores["truncated"].sum()),
        "boundary_merges": 4,
        "skipped": {"empty response": 0, "<b>unencodable</b>": 1},
        "tokens_per_second": 1234.5,
        "elapsed_s": 12.25,
    }
    (folder / "scoring.json").write_text(json.dumps(scoring, indent=2), encoding="utf-8")

    # The pair design: ties dropped, orientation flipped at random (seeded), label 1 = a preferred.
    by_id = scores.set_index("response_id")
    ratings = data.responses.set_index("response_id")
    design = data.comparisons[data.comparisons["label"] != 0.5].reset_index(drop=True).copy()
    flip = rng.random(len(design)) < 0.5
    a = design["response_a"].where(~flip, design["response_b"])
    b = design["response_b"].where(~flip, design["response_a"])
    design["response_a"], design["response_b"] = a, b
    design["label"] = design["label"].where(~flip, 1 - design["label"])
    design["delta_mean_logprob"] = by_id.loc[a, "mean_logprob"].to_numpy() - by_id.loc[b, "mean_logprob"].to_numpy()
    design["delta_sum_logprob"] = by_id.loc[a, "sum_logprob"].to_numpy() - by_id.loc[b, "sum_logprob"].to_numpy()
    design["delta_log_tokens"] = np.log(by_id.loc[a, "n_tokens"].to_numpy()) - np.log(by_id.loc[b, "n_tokens"].to_numpy())
    for name in data.rating_columns:
        design[f"delta_{name}"] = ratings.loc[a, name].to_numpy() - ratings.loc[b, name].to_numpy()
    design.to_parquet(folder / "pairs.parquet", index=False)

    def entry(slice_name, typicality, controls, frame):
        columns = [CONTROL_COLUMNS[name] for name in controls]
        estimate = {"slice": slice_name, "typicality": typicality, "controls": controls, "fitted": True, "reason": None}
        estimate.update(fit(frame, f"delta_{typicality}", columns))
        estimate.update(bootstrap=None, warnings=[])
        return {"id": f"{slice_name}|{typicality}|{'+'.join(controls) or 'none'}", **estimate}

    estimates = []
    if rated:
        equal = design[design["delta_correctness"] == 0]
        estimates.append(
            {
                "id": "equal-correctness|mean_logprob|none",
                "slice": "equal-correctness",
                "typicality": "mean_logprob",
                "controls": [],
                "fitted": False,
                "reason": "perfect separation in the equal-correctness slice <em>(few pairs)</em>",
                **dict.fromkeys(("alpha", "se", "ci_low", "ci_high", "p_value", "odds_ratio_per_sd", "win_prob_change"), None),
                "n_pairs": int(len(equal)),
                "n_clusters": int(equal["prompt_id"].nunique()),
                "bootstrap": None,
                "warnings": [],
            }
        )
        estimates.append(entry("all", "mean_logprob", ["correctness"], design))
        estimates.append(entry("all", "mean_logprob", ["correctness", "length"], design))
    estimates.append(entry("all", "mean_logprob", [], design))
    estimates.append(entry("all", "mean_logprob", ["length"], design))
    estimates.append(entry("all", "sum_logprob", [], design))
    # As the stats stage does: the headline is the first fitted estimate, with its length-controlled twin.
    first = next(e for e in estimates if e["fitted"])
    twin = next(e for e in estimates if e["slice"] == first["slice"] and e["typicality"] == first["typicality"] and e["controls"] == first["controls"] + ["length"])

    delta_preferred = design["delta_mean_logprob"].where(design["label"] == 1, -design["delta_mean_logprob"])
    agree = int((delta_preferred > 0).sum())
    low, high = proportion_confint(agree, len(design), method="wilson")
    ties = int((data.comparisons["label"] == 0.5).sum())
    results = {
        "dataset": {"name": HOSTILE_NAME, "subset": None, "split": "test", "kind": data.kind, "correctness": data.correctness},
        "model": {"model": "gemma-3-270m", "fingerprint": "abc123", "dtype": "float32"},
        "headline": {"estimate": first["id"], "length_controlled": twin["id"]},
        "estimates": estimates,
        "agreement": {
            "typicality": "mean_logprob",
            "rate": agree / len(design),
            "ci_low": low,
            "ci_high": high,
            "p_value": binomtest(agree, len(design), 0.5).pvalue,
            "n_agree": agree,
            "n_pairs": int(len(design)),
        },
        "ordinal": None,
        "pairs": {"comparisons": int(len(data.comparisons)), "pairs": int(len(design)), "dropped": {"tie (ties='drop')": ties} if ties else {}},
        "settings": {"seed": seed, "bootstrap": 0, "ties": "drop"},
        "warnings": ["A warning from the fit with <b>markup</b>."],
        "software": {"typicality": "0.1.0", "statsmodels": sm.__version__, "python": "3.x"},
    }
    if rated:
        results["ordinal"] = {
            "outcome": "helpfulness",
            "typicality": "mean_logprob",
            "controls": ["correctness"],
            "fitted": True,
            "reason": None,
            "coef": 0.8123,
            "se": 0.3012,
            "p_value": 0.0071,
            "lr_statistic": 7.456,
            "lr_df": 1,
            "lr_p_value": 0.0063,
            "n_responses": int(len(data.responses)),
            "n_levels": 5,
            "warnings": [],
        }
    (folder / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return folder
