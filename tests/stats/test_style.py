"""`--controls style`: Arena's style differences counted from the texts, and one robustness row beside an unchanged headline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from typicality.stats import analyze, build_pairs, simulate
from typicality.stats.pairwise_models import fit_logit
from typicality.stats.style import STYLE_CONTROLS, normalised_difference, style_counts, with_style_columns

TEXT = """# Title
Some **bold** words and __more bold__, not ** spaced **.
## Second header
- one
* two
  + nested three
1. first
2) second
#not a header
-not a list
"""


def test_counts_of_headers_list_items_and_bold_spans():
    counts = style_counts(pd.Series([TEXT, "", None, "plain text"]))
    assert counts.iloc[0].to_dict() == {"style_headers": 2, "style_lists": 5, "style_bold": 2}
    assert counts.iloc[1:].to_numpy().sum() == 0
    assert normalised_difference([3, 0, 0], [1, 0, 2]) == pytest.approx([0.4, 0.0, -2 / 3])


def _styled(seed: int = 4):
    """A simulated dataset whose responses carry random markdown (independent of everything else)."""
    data, scores = simulate(0.8, 300, 4, seed=seed)
    rng = np.random.default_rng(seed)
    n = len(data.responses)
    headers, items, bold = rng.integers(0, 3, n), rng.integers(0, 5, n), rng.integers(0, 4, n)
    data.responses = data.responses.assign(
        response=[f"{text}\n" + "## h\n" * h + "- item\n" * i + "**b** " * b for text, h, i, b in zip(data.responses["response"], headers, items, bold)]
    )
    return data, scores, pd.DataFrame({"style_headers": headers, "style_lists": items, "style_bold": bold}, index=data.responses["response_id"])


def test_the_style_row_is_the_headline_with_length_and_style_and_the_headline_is_unchanged():
    data, scores, truth = _styled()
    plain = analyze(data, scores, change_draws=0, typicalities=("mean_logprob",))
    styled = analyze(data, scores, change_draws=0, typicalities=("mean_logprob",), controls=["style"])
    assert styled.headline == plain.headline
    extra = [e for e in styled.estimates if e.id not in {p.id for p in plain.estimates}]
    assert len(extra) == 1
    row = extra[0]
    headline = plain.headline_estimate
    assert row.slice == headline.slice and row.controls == [*headline.controls, "length", *STYLE_CONTROLS]
    assert row.robustness.startswith("style controls") and row.p_holm is not None
    # the same fit from the style counts as drawn (not as counted from the texts) and the fast Newton path
    frame = with_style_columns(build_pairs(data, scores), data).frame
    frame = frame[frame["delta_correctness"] == 0] if headline.slice == "equal-correctness" else frame
    a, b = truth.loc[frame["response_a"]].to_numpy(float), truth.loc[frame["response_b"]].to_numpy(float)
    X = np.column_stack([frame["delta_mean_logprob"], frame["delta_log_tokens"], (a - b) / (a + b + 1)])
    fit = fit_logit(frame["label"].to_numpy(float), X, frame["prompt_id"].to_numpy())
    assert row.alpha == pytest.approx(fit.params[0], rel=1e-6)
    assert row.se == pytest.approx(fit.se[0], rel=1e-5)
