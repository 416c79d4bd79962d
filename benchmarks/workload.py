"""The benchmark's workload: real HH-RLHF (prompt, response) pairs, and their token counts.

Every method in a comparison scores exactly these pairs, in this order: the distinct responses
of `--pairs` sampled comparisons, each after its prompt joined by the project's documented rule
(`typicality.scoring.join.scoring_context`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from typicality.data import PreferenceData, load  # noqa: E402
from typicality.scoring.join import scoring_context  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "hh-rlhf"


def hh_rlhf(pairs: int, subset: str = "helpful-base", seed: int = 0) -> PreferenceData:
    """`pairs` comparisons sampled from the local copy of HH-RLHF's test split (exits with a clear message if absent)."""
    data_file = DATA / subset / "test.jsonl.gz"
    if not data_file.exists():
        sys.exit(f"benchmark: needs the real data at {data_file} (../shared/data beside the checkout)")
    return load("hh-rlhf", data_files=str(data_file), limit=pairs, seed=seed)


def text_pairs(data: PreferenceData) -> list[tuple[str, str]]:
    """(prompt, response) of every distinct response, in the order of `data.responses` (the scorer's table order)."""
    return list(zip(data.responses["prompt"], data.responses["response"]))


@dataclass(frozen=True)
class TokenCounts:
    """Token counts of a workload under one tokenizer, with BOS, by the project's boundary rule."""

    contexts: list[int]  # length of each distinct context (a prompt shared by two responses counts once)
    responses: list[tuple[int, int]]  # (context length, response length) of every response

    @property
    def positions(self) -> int:
        """Prompt + response tokens of every response: what a one-at-a-time scorer runs."""
        return sum(c + n for c, n in self.responses)

    @property
    def response_tokens(self) -> int:
        return sum(n for _, n in self.responses)


def joint_tokens(tokenizer, prompt: str, response: str) -> tuple[list[int], int]:
    """BOS + the joint tokens, and the index of the first response token: the context is the
    common prefix of the joint tokens with the prompt's own tokens (independent of the scorer)."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    context_text = scoring_context(prompt, response)
    prompt_ids = bos + tokenizer(context_text, add_special_tokens=False)["input_ids"]
    joint_ids = bos + tokenizer(context_text + response, add_special_tokens=False)["input_ids"]
    cut = 0
    while cut < len(prompt_ids) and prompt_ids[cut] == joint_ids[cut]:
        cut += 1
    return joint_ids, cut


def count_tokens(tokenizer, pairs: list[tuple[str, str]]) -> TokenCounts:
    """Counted independently of the scorer, by `joint_tokens`."""
    distinct: dict[tuple[int, ...], int] = {}
    responses = []
    for prompt, response in pairs:
        joint_ids, cut = joint_tokens(tokenizer, prompt, response)
        distinct[tuple(joint_ids[:cut])] = cut
        responses.append((cut, len(joint_ids) - cut))
    return TokenCounts(contexts=list(distinct.values()), responses=responses)
