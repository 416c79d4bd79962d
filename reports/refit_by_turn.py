"""The committed example re-fitted by conversation turn (`analyze(..., by="turn")`), from its committed scores (no re-scoring).

HH-RLHF names no annotator, but it has a "where": the turn of the conversation the two replies
answer, i.e. how many Human turns the prompt holds. Does the preference for typical text differ
between first replies and later ones? The pairs, scores and every other setting are the example's
(reports/refit_example.py: the default robustness set, seed 0), so its headline alpha is the
example's (to rounding in the last bit, asserted below); the folder adds results.json's `groups` and the report's "Who and where".

Turns are capped at "4+". Of the 2,339 pairs, 694, 610, 571 and 330 hold 1, 2, 3 and 4 Human turns,
75 and 32 hold 5 and 6, and 27 hold 7 to 25 (10 distinct counts, at most 7 pairs each). Uncapped, every
count past 6 has fewer pairs than --min-group-pairs (30) and would be pooled into one "(pooled small
groups)" anyway, a mixture that takes no part in the between-group estimate, and turns 5 and 6 would be
groups of 75 and 32 pairs whose alphas are mostly noise; "4+" (464 pairs) keeps every pair in a group
of comparable size that takes part.

    .venv/bin/python reports/refit_by_turn.py
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from refit_example import ROOT, load_example, refit

from typicality.domain import PreferenceData

FOLDER = ROOT / "reports" / "hh-rlhf-helpful-base-by-turn"
TURN_COLUMN = "turn"
HUMAN_TURN = "\n\nHuman:"  # how HH-RLHF opens each Human turn (the loader keeps the transcript's own markers in the prompt)
LAST_TURN = 4  # turns from here on are one group, "4+"
EXAMPLE_ALPHA = 0.24021072543742417  # reports/hh-rlhf-helpful-base/results.json: the same pairs, so the same headline
# to rounding: the example's own refit here gives 0.2402107254374242 (the last bit moves with the linear algebra build)
ALPHA_TOLERANCE = 1e-12


def turn_labels(human_turns: pd.Series) -> pd.Series:
    """Human turns per prompt -> "1", "2", "3", "4+"."""
    return human_turns.astype(int).astype(str).where(human_turns < LAST_TURN, f"{LAST_TURN}+")


def with_turn(data: PreferenceData) -> PreferenceData:
    """`data` with a comparison-level column `turn`: the Human turns of the pair's prompt, capped at "4+"."""
    prompts = data.responses.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"]
    human_turns = data.comparisons["prompt_id"].map(prompts).str.count(HUMAN_TURN)
    return dataclasses.replace(data, comparisons=data.comparisons.assign(**{TURN_COLUMN: turn_labels(human_turns)}))


def main() -> None:
    data, scores = load_example()
    data = with_turn(data)
    print(data.comparisons[TURN_COLUMN].value_counts().sort_index().to_string())
    results = refit(data, scores, FOLDER, by=TURN_COLUMN)
    alpha = results.headline_estimate.alpha
    assert abs(alpha - EXAMPLE_ALPHA) <= ALPHA_TOLERANCE, f"headline alpha {alpha!r} is not the example's {EXAMPLE_ALPHA!r}"
    print(results.groups.summary())


if __name__ == "__main__":
    main()
