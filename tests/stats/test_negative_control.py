"""The fluency negative control: scores without the prompt, and the prompt-specific vs unconditional robustness rows."""

from __future__ import annotations

import numpy as np
import pytest

from tests.stats.builders import pairwise, scores_table
from typicality.stats import analyze_with_design
from typicality.stats.negative_control import PROMPT_SPECIFIC, UNCONDITIONAL, without_prompts


def fluency_data(n_prompts: int = 400, seed: int = 0):
    """Annotators reward fluency l(y) only; l(y|x) = l(y) + a prompt-specific part that annotators ignore."""
    rng = np.random.default_rng(seed)
    prompts, first, second, conditional, unconditional = [], [], [], {}, {}
    for p in range(n_prompts):
        a, b = f"reply {p}a", f"reply {p}b"
        for text in (a, b):
            unconditional[text] = rng.normal(-3, 0.8)
            conditional[text] = unconditional[text] + rng.normal(0, 0.8)
        prefer_a = rng.random() < 1 / (1 + np.exp(-1.0 * (unconditional[a] - unconditional[b])))
        prompts.append(f"question {p}")
        first.append(a if prefer_a else b)
        second.append(b if prefer_a else a)
    data = pairwise(prompts, first, second)
    return data, scores_table(data, conditional), scores_table(data, unconditional)


def test_the_rows_tell_fluency_from_typicality_given_the_prompt():
    data, scores, unconditional = fluency_data()
    results, design = analyze_with_design(data, scores, unconditional=unconditional, change_draws=0)
    summary = results.negative_control
    assert summary.available and summary.estimate == results.headline.estimate
    specific, generic = results.estimate(summary.prompt_specific), results.estimate(summary.unconditional)
    assert specific.estimator == PROMPT_SPECIFIC and generic.estimator == UNCONDITIONAL
    assert specific.controls == results.headline_estimate.controls
    assert specific.ci_low < 0 < specific.ci_high  # nothing beyond fluency
    assert generic.ci_low > 0.6  # the true fluency effect is 1.0
    assert generic.p_holm is not None  # part of the robustness family
    # The prompt-specific difference is exactly Δl(y|x) - Δl(y), pair by pair.
    frame = design.frame
    u = unconditional.set_index("response_id")["mean_logprob"]
    expected = frame["delta_mean_logprob"] - (u.reindex(frame["response_a"]).to_numpy() - u.reindex(frame["response_b"]).to_numpy())
    from typicality.stats.pairwise_logit import PairwiseSpec
    from typicality.stats.typicality_bias import fit_estimate

    check, _ = fit_estimate(design.with_frame(frame.assign(delta_mean_logprob=expected)), PairwiseSpec("all", "mean_logprob"))
    assert specific.alpha == pytest.approx(check.alpha, rel=1e-10)


def test_without_prompts_keeps_ids_and_empties_prompts():
    data, _, _ = fluency_data(5)
    empty = without_prompts(data)
    assert (empty.responses["prompt"] == "").all()
    assert list(empty.responses["response_id"]) == list(data.responses["response_id"])
    assert (data.responses["prompt"] != "").all()  # the original is untouched


@pytest.mark.slow
def test_an_empty_prompt_scores_the_response_after_bos_alone(tmp_path):
    """Through the real scorer (tiny model): each response's score without its prompt equals the naive
    computation on BOS + response; with its prompt the score differs."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.scoring.tiny_model import build_tiny_model
    from typicality.scoring import load_backend, score
    from typicality.scoring.naive import naive_score
    from typicality.stats.negative_control import unconditional_scores

    folder = build_tiny_model(tmp_path / "tiny")
    backend = load_backend(str(folder), device="cpu", progress=False)
    data = pairwise(
        ["The capital of France is", "What is the capital of Italy?"],
        [" Paris.", " The capital of Italy is Rome."],
        [" Rome.", " I think that is a good question."],
    )
    without = unconditional_scores(data, backend, progress=False, cache_dir=str(tmp_path / "cache"))
    with_prompt = score(data, backend, progress=False, cache_dir=str(tmp_path / "cache"))
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    table = without.table.set_index("response_id")
    for _, row in data.responses.iterrows():
        reference = naive_score(model, tokenizer, "", row["response"])
        assert table.loc[row["response_id"], "mean_logprob"] == pytest.approx(reference["mean_logprob"], abs=1e-4)
        assert table.loc[row["response_id"], "n_tokens"] == reference["n_tokens"]
    conditional = with_prompt.table.set_index("response_id")["mean_logprob"]
    assert not np.allclose(conditional.reindex(table.index), table["mean_logprob"])
