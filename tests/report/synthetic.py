"""A small synthetic audit folder written by the real pipeline, with hostile text in every response.

The texts, ratings and scores are made up here; everything else comes from the stages
themselves: `from_ratings` / `from_pairs` build the `PreferenceData`, `analyze` makes every
decision (pair design, fits, headline, its length-controlled twin), and `typicality.audit_folder`
writes the files. So the report's tests read exactly what a real audit writes.

Independent checks of the numbers the report prints live here too: `hand_fit` refits alpha
with plain numpy (Newton's method, a hand-written cluster sandwich) and `hand_agreement`
recounts the agreement rate from the pair table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import binomtest, norm
from scipy.stats import t as student_t

from typicality.audit_folder import RESULTS_FILE, SCORES_FILE, save_analysis, save_data, save_scores
from typicality.data.build import from_pairs, from_ratings
from typicality.domain import SCORE_COLUMNS, Accounting, ScoreResult, response_id_for
from typicality.stats import analyze_with_design

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
SPLIT = "test"
# What the report's title says: the data's title (no source, no files: its name), then the split.
TITLE = f"{HOSTILE_NAME} ({SPLIT})"
LOADER_NOTE = "A note with <b>markup</b> from the loader."
WORDS = "the a model answer helpful careful honest step first then finally because therefore".split()
MODEL = "gemma-3-270m"
FINGERPRINT = f"{MODEL}@0123456789abcdef|transformers|float32|bos=on|template=off|window=32768|scorer=1"
# The controls results.json names, and the pair-table column each stands for.
CONTROL_COLUMNS = {"length": "delta_log_tokens", "correctness": "delta_correctness", "helpfulness": "delta_helpfulness"}


def hostile_text(rng: np.random.Generator, label: str, n_words: int) -> str:
    words = " ".join(rng.choice(WORDS, size=n_words))
    return f"{label}: {words}\n" + "\n".join(PAYLOADS)


def score_card(table: pd.DataFrame) -> dict:
    """A card with the keys the real scorer writes (reports/hh-rlhf-helpful-base/scores.card.json), values made up."""
    n = int(len(table))
    return {
        "backend": "transformers",
        "batch_tokens": 4096,
        "bos": True,
        "bos_policy": "auto",
        "boundary_merged": int(table["boundary_merged"].sum()),
        "chat_template": False,
        "compute_s": 12.25,
        "config_window": 32768,
        "context_sharing": "packed rows (a prompt's responses share one pass)",
        "device": "cpu",
        "device_map": None,
        "dtype": "float32",
        "elapsed_s": 13.5,
        "fingerprint": FINGERPRINT,
        "model": MODEL,
        "n_computed": n,
        "n_from_cache": 0,
        "n_responses": n,
        "n_scored": n,
        "name": MODEL,
        "output_layer": "response positions only",
        "prompt_truncated": int(table["prompt_truncated"].sum()),
        "response_truncated": int(table["truncated"].sum()),
        "revision": "gguf-sha256:" + "ab" * 32,
        "scorer_version": "1",
        "shard": None,
        "skipped": {},
        "software": {"torch": "2.13.0+cpu", "transformers": "5.23.0", "typicality": "0.1.0"},
        "tokens_per_s": 1234.5,
        "torch_threads": 2,
        "window": 32768,
    }


def synthetic_inputs(*, rated: bool = True, seed: int = 7, n_prompts: int = 12, per_prompt: int = 4):
    """(PreferenceData, ScoreResult): hostile texts, ratings that follow typicality loosely, made-up scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        prompt = f"\n\nHuman: question {p} " + hostile_text(rng, "prompt", 30) + "\n\nAssistant:"
        for r in range(per_prompt):
            n_tokens = int(rng.integers(5, 300))
            mean_logprob = -3.0 + 0.25 * np.log(n_tokens) + rng.normal(0, 0.4)
            rows.append(
                {
                    "prompt": prompt,
                    "response": hostile_text(rng, f"response {p}.{r}", int(rng.integers(3, 40))),
                    "n_tokens": n_tokens,
                    "mean_logprob": mean_logprob,
                }
            )
    rated_frame = pd.DataFrame(rows)
    z = (rated_frame["mean_logprob"] - rated_frame["mean_logprob"].mean()) / rated_frame["mean_logprob"].std()
    rated_frame["helpfulness"] = np.clip(np.round(2 + 0.5 * z + rng.normal(0, 1, len(z))), 0, 4)
    rated_frame["correctness"] = np.clip(np.round(2 + 0.5 * z + rng.normal(0, 1, len(z))), 0, 4)

    accounting = Accounting(rows_read=len(rated_frame) + 3)
    accounting.drop("empty response", 2)
    accounting.drop("missing helpfulness rating", 1)
    accounting.notes.append(LOADER_NOTE)
    if rated:
        data = from_ratings(HOSTILE_NAME, rated_frame, "helpfulness", ["helpfulness", "correctness"], accounting, correctness="correctness", split=SPLIT)
    else:
        # Pairwise: each prompt's first two responses, the first chosen when it is at least as helpful.
        firsts = rated_frame.groupby("prompt", sort=False).nth(0).reset_index(drop=True)
        seconds = rated_frame.groupby("prompt", sort=False).nth(1).reset_index(drop=True)
        labels = (firsts["helpfulness"].to_numpy() >= seconds["helpfulness"].to_numpy()).astype(float)
        data = from_pairs(HOSTILE_NAME, firsts["prompt"], firsts["response"], seconds["response"], labels, accounting, split=SPLIT)

    # The scores table as the scorer writes it (SCORE_SCHEMA): one row per distinct response.
    rated_frame["response_id"] = [response_id_for(p, r) for p, r in zip(rated_frame["prompt"], rated_frame["response"])]
    scored = data.responses[["prompt_id", "response_id"]].merge(rated_frame[["response_id", "n_tokens", "mean_logprob"]], on="response_id")
    table = pd.DataFrame(
        {
            "prompt_id": scored["prompt_id"],
            "response_id": scored["response_id"],
            "n_tokens": scored["n_tokens"].astype("int64"),
            "sum_logprob": scored["mean_logprob"] * scored["n_tokens"],
            "mean_logprob": scored["mean_logprob"],
            "truncated": scored["n_tokens"] > 280,
            "prompt_truncated": False,
            "boundary_merged": False,
            "skipped": None,
            "model": FINGERPRINT,
        },
        columns=SCORE_COLUMNS,
    )
    return data, ScoreResult(table, score_card(table))


def build_audit_folder(folder: Path, *, rated: bool = True, seed: int = 7, n_prompts: int = 12, per_prompt: int = 4) -> Path:
    """Write a finished audit folder as `typicality audit` does (data, scores, pairs.parquet, results.json), minus the report."""
    data, scores = synthetic_inputs(rated=rated, seed=seed, n_prompts=n_prompts, per_prompt=per_prompt)
    results, design = analyze_with_design(data, scores, seed=0)
    save_data(data, folder)
    save_scores(scores, folder / SCORES_FILE)
    save_analysis(results, design, folder)
    return folder


def stored_results(folder: Path) -> dict:
    """results.json as stored, for a test to edit by hand (format_version and all)."""
    return json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))


def store_results(folder: Path, results: dict) -> None:
    """Write a hand-edited results.json back as it is (NaN and Infinity allowed, as a careless hand edit might)."""
    (folder / RESULTS_FILE).write_text(json.dumps(results, indent=2), encoding="utf-8")


def estimate_with_id(results: dict, estimate_id: str) -> dict:
    return next(e for e in results["estimates"] if e["id"] == estimate_id)


# --- Independent checks ---------------------------------------------------------------------


def hand_fit(pairs: pd.DataFrame, typicality: str = "mean_logprob", controls: list[str] = ()) -> dict:
    """The paper's fit by hand: a no-intercept logit by Newton's method, SEs from the cluster
    sandwich (clusters = prompts) with the usual small-sample factor G/(G-1) · (N-1)/(N-K),
    p-value and 95% CI from Student's t with G - 1 degrees of freedom (docs/method.md)."""
    columns = [f"delta_{typicality}", *(CONTROL_COLUMNS[name] for name in controls)]
    X = pairs[columns].to_numpy(float)
    y = pairs["label"].to_numpy(float)
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        p = expit(X @ beta)
        step = np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    p = expit(X @ beta)
    bread = np.linalg.inv(X.T @ (X * (p * (1 - p))[:, None]))
    scores = pd.DataFrame(X * (y - p)[:, None]).groupby(pairs["prompt_id"].to_numpy()).sum().to_numpy()
    n, k, g = len(y), X.shape[1], len(scores)
    covariance = g / (g - 1) * (n - 1) / (n - k) * bread @ (scores.T @ scores) @ bread
    alpha, se = float(beta[0]), float(np.sqrt(covariance[0, 0]))
    half = float(student_t.ppf(0.975, g - 1)) * se
    sd = float(np.sqrt(np.mean(X[:, 0] ** 2)))  # root mean square: the SD of the symmetrised differences
    return {
        "alpha": alpha,
        "se": se,
        "ci_low": alpha - half,
        "ci_high": alpha + half,
        "p_value": float(2 * student_t.sf(abs(alpha / se), g - 1)),
        "odds_ratio_per_sd": float(np.exp(alpha * sd)),
        "win_prob_change": float(expit(alpha * sd) - expit(-alpha * sd)),
        "n_pairs": int(n),
        "n_clusters": int(g),
    }


def hand_agreement(pairs: pd.DataFrame) -> dict:
    """Share of decided pairs whose preferred response has the higher mean log-likelihood, Wilson 95% CI, binomial p."""
    decided = pairs[pairs["label"].isin([0.0, 1.0])]
    delta_preferred = np.where(decided["label"] == 1, decided["delta_mean_logprob"], -decided["delta_mean_logprob"])
    agree, n = int((delta_preferred > 0).sum()), int(len(decided))
    z = norm.ppf(0.975)
    rate = agree / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return {"rate": rate, "ci_low": centre - half, "ci_high": centre + half, "p_value": binomtest(agree, n, 0.5).pvalue, "n_pairs": n}
