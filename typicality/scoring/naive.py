"""The naive reference computation: one sequence at a time, full logits, float32.

Slow on purpose and written independently of the batched scorer (no cache, no batching, no
output-layer shortcut): the tests compare the scorer with it, and the benchmark times it.
"""

from __future__ import annotations

import torch

from typicality.scoring.join import scoring_context


def naive_token_logprobs(model, input_ids: list[int], n_context: int) -> torch.Tensor:
    """Log-probabilities of input_ids[n_context:], each read from the logits one position earlier."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([input_ids], device=model.device)).logits[0].float()
    logprobs = torch.log_softmax(logits[:-1], dim=-1)  # position t predicts token t + 1
    targets = torch.tensor(input_ids[n_context:], device=logprobs.device)
    return logprobs[torch.arange(n_context - 1, len(input_ids) - 1, device=logprobs.device), targets]


def naive_score(model, tokenizer, prompt: str, response: str, bos: bool = True) -> dict:
    """n_tokens, sum_logprob and mean_logprob of the response after the prompt, with or without BOS.

    The response tokens are the joint tokens after the longest common prefix with the prompt's
    own tokens (the documented boundary rule; on most real data the prefix is the whole prompt).
    """
    prompt = scoring_context(prompt, response)  # the documented join (join.py), as the scorer applies it
    start = [tokenizer.bos_token_id] if bos else []
    prompt_ids = start + tokenizer(prompt, add_special_tokens=False)["input_ids"]
    joint_ids = start + tokenizer(prompt + response, add_special_tokens=False)["input_ids"]
    n_context = 0
    while n_context < len(prompt_ids) and prompt_ids[n_context] == joint_ids[n_context]:
        n_context += 1
    logprobs = naive_token_logprobs(model, joint_ids, n_context)
    total = float(logprobs.double().sum())
    return {
        "n_tokens": len(logprobs),
        "sum_logprob": total,
        "mean_logprob": total / len(logprobs),
        "boundary_merged": n_context < len(prompt_ids),
    }
