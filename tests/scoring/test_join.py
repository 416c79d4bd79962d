"""The prompt/response join rule: a newline only where neither side brings whitespace."""

from __future__ import annotations

import pytest

from tests.scoring.helpers import data_from_texts
from typicality.scoring import naive_score, score
from typicality.scoring.join import scoring_context
from typicality.scoring.naive import naive_token_logprobs


@pytest.mark.parametrize(
    ("prompt", "response", "context"),
    [
        ("\n\nHuman: Hi\n\nAssistant:", " Hello", "\n\nHuman: Hi\n\nAssistant:"),  # HH-RLHF: as is
        ("Write a haiku.", "Leaves fall", "Write a haiku.\n"),  # bare instruction and answer
        ("Write a haiku.\n", "Leaves fall", "Write a haiku.\n"),
        ("Write a haiku.", "\nLeaves fall", "Write a haiku."),
    ],
)
def test_scoring_context(prompt, response, context):
    assert scoring_context(prompt, response) == context


def test_bare_texts_are_scored_after_a_newline(tiny, tmp_path):
    """The scorer's numbers for a bare instruction/answer equal the naive score with the newline in the context."""
    prompt, response = "What is the capital of Italy?", "The capital of Italy is Rome."
    result = score(data_from_texts([(prompt, response)]), tiny, cache_dir=tmp_path, progress=False)
    row = result.table.iloc[0]
    with_newline = naive_score(tiny.model, tiny.tokenizer, prompt + "\n", response)  # the join made explicit
    assert row["mean_logprob"] == pytest.approx(with_newline["mean_logprob"], abs=1e-4)
    assert row["n_tokens"] == with_newline["n_tokens"]
    # Glued without the newline, the same response would score differently: the rule matters.
    tokenizer = tiny.tokenizer
    context = [tokenizer.bos_token_id] + tokenizer(prompt, add_special_tokens=False)["input_ids"]
    glued = naive_token_logprobs(tiny.model, [tokenizer.bos_token_id] + tokenizer(prompt + response, add_special_tokens=False)["input_ids"], len(context))
    assert abs(float(glued.double().mean()) - with_newline["mean_logprob"]) > 1e-3
