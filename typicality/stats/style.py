"""Chatbot Arena's style controls (Chiang et al., "Does style matter?", 2024) as one robustness row: is alpha style in disguise?

Per response, counted once from its text: markdown headers (lines opening with 1-6 `#` and a
space), list items (lines opening with `-`, `*`, `+` or `1.` / `1)` and a space) and bold spans
(`**...**` or `__...__`). Per pair, Arena's normalised difference (a - b) / (a + b + 1) of each
count (0 when neither has any), beside the length control (Δ log token count, which the design
already has). The row is the headline fit with length and the three style differences added;
the headline itself does not change.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from typicality.domain import PairDesign, PreferenceData
from typicality.results import LENGTH_CONTROL, Estimate
from typicality.stats.typicality_bias import TypicalityBias

STYLE = "style"  # what --controls accepts
STYLE_CONTROLS = ("style_headers", "style_lists", "style_bold")
PATTERNS = {
    "style_headers": re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S", re.MULTILINE),
    "style_lists": re.compile(r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+\S", re.MULTILINE),
    "style_bold": re.compile(r"\*\*(?=\S)(?:[^*\n]|\*(?!\*))+?\*\*|__(?=\S)[^_\n]+?__"),
}


def style_counts(texts: pd.Series) -> pd.DataFrame:
    """Markdown headers, list items and bold spans of each text (one row per text)."""
    values = texts.fillna("").astype(str)
    return pd.DataFrame({name: values.map(lambda text, pattern=pattern: len(pattern.findall(text))) for name, pattern in PATTERNS.items()}, index=texts.index)


def normalised_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a - b) / (a + b + 1): Arena's difference of two counts, in (-1, 1)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return (a - b) / (a + b + 1.0)


def with_style_columns(design: PairDesign, data: PreferenceData) -> PairDesign:
    """The design with delta_style_* columns (NaN for a pair whose response text is absent)."""
    responses = data.responses.drop_duplicates("response_id")
    counts = style_counts(responses["response"].reset_index(drop=True))
    index = pd.Index(responses["response_id"].astype(str).to_numpy(dtype=object))
    position_a = index.get_indexer(design.frame["response_a"].astype(str))
    position_b = index.get_indexer(design.frame["response_b"].astype(str))
    frame = design.frame.copy()
    for name in STYLE_CONTROLS:
        values = np.append(counts[name].to_numpy(dtype=float), np.nan)  # position -1 (no text): NaN
        frame[f"delta_{name}"] = normalised_difference(values[position_a], values[position_b])
    return design.with_frame(frame)


def without_style(controls: list[str] | None) -> list[str] | None:
    """--controls with `style` taken out (it adds a row, it does not choose the set): None (the default set) when nothing is left."""
    if controls is None or STYLE not in controls:
        return controls
    rest = [name for name in controls if name != STYLE]
    return rest or None


def style_estimate(design: PairDesign, headline: Estimate, seed: int = 0) -> Estimate:
    """The headline fit with length and the style differences added, as a robustness row."""
    controls = list(dict.fromkeys([*headline.controls, LENGTH_CONTROL, *STYLE_CONTROLS]))
    estimate = TypicalityBias(headline.typicality, controls, seed=seed, slice=headline.slice).fit(design).estimate_
    return estimate.replace(robustness="style controls (Chatbot Arena's): length and markdown headers, list items and bold spans")
