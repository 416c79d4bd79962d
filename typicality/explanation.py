"""`typicality explain AUDIT`: why a response is typical, token by token, for the few pairs that move alpha most.

    view = typicality.explain("audit-hh")             # the 5 pairs whose removal moves alpha most (influence.parquet)
    view = typicality.explain("audit-hh", pair=1234)  # one pair, by its comparison number (pairs.parquet's `comparison`)
    view                                               # in a notebook: both responses, every token shaded

Only the chosen responses are re-scored, under the audit's own model: the backend is loaded from
the score card and refused unless its fingerprint is the card's, and the per-token values come
from the scorer's own rules and computation (typicality/scoring/token_view.py), so each
response's tokens add up to the sum the audit used; tokens.json records both sums and the
largest difference. The view is written to tokens.json and the report is re-rendered with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from typicality.audit_folder import AuditFolder, read_audit, save_token_view
from typicality.errors import TypicalityError
from typicality.report import render_report
from typicality.report.tokens import TokenView, prompt_end
from typicality.scoring.backends import ScoringBackend
from typicality.scoring.requests import Skipped
from typicality.scoring.token_view import backend_for_card, checked_backend, token_logprobs

DEFAULT_PAIRS = 5
SUM_TOLERANCE = 1e-4  # nats: a float32 re-computation of the same tokens agrees far closer; half precision may not


def explain(
    folder: str | Path,
    *,
    pairs: int | None = None,
    pair: int | None = None,
    backend: ScoringBackend | None = None,
    report: bool = True,
) -> TokenView:
    """Re-score the chosen pairs' responses token by token, write tokens.json (and re-render the report), return the view.

    `pairs`: the N pairs whose removal moves the headline alpha most (influence.parquet; default 5),
    or, without influence, the N pairs with the largest |Δ typicality|. `pair`: one pair by its
    comparison number. `backend`: a loaded backend (default: loaded from the score card).
    """
    if pairs is not None and pair is not None:
        raise TypicalityError("Give --pairs N or --pair ID, not both.")
    folder = Path(folder)
    audit = read_audit(folder)
    for needed, name in ((audit.pairs, "pairs.parquet"), (audit.data, "dataset.json with responses.parquet"), (audit.scores, "scores.parquet")):
        if needed is None:
            raise TypicalityError(f"{folder} has no readable {name} ({'; '.join(audit.missing.values()) or 'absent'}): run `typicality audit` into it first.")
    chosen, selection = choose_pairs(audit, pairs if pairs is not None else DEFAULT_PAIRS, pair)
    card = audit.scores.card or audit.score_card
    backend = checked_backend(backend, card) if backend is not None else backend_for_card(card)
    content = token_view_content(audit, chosen, backend, selection)
    save_token_view(content, folder)
    if report:
        render_report(folder)
    return TokenView(content, folder / "tokens.json")


def choose_pairs(audit: AuditFolder, n: int, comparison: int | None) -> tuple[pd.DataFrame, str]:
    """The design rows to show, with the influence columns (`influence`, `rank`; NaN without influence), and how they were chosen."""
    frame = audit.pairs.frame.copy()
    influence = audit.influence
    if influence is not None and {"level", "comparison", "change", "rank"} <= set(influence.columns):
        rows = influence[influence["level"] == "pair"].set_index("comparison")
        frame["influence"] = frame["comparison"].map(rows["change"])
        frame["rank"] = frame["comparison"].map(rows["rank"])
    else:
        frame["influence"], frame["rank"] = np.nan, np.nan
    if comparison is not None:
        found = frame[frame["comparison"] == comparison]
        if found.empty:
            raise TypicalityError(
                f"No pair has comparison number {comparison} in {audit.folder}: give one of pairs.parquet's `comparison` values "
                f"(0 to {int(frame['comparison'].max())}; pairs dropped from the design have none)."
            )
        return found, f"Pair {comparison}, chosen by the user"
    if n < 1:
        raise TypicalityError(f"--pairs must be at least 1, got {n}.")
    if frame["rank"].notna().any():
        return frame.dropna(subset=["rank"]).sort_values("rank").head(n), f"The {n} pair(s) whose removal moves alpha most (influence.parquet)"
    order = frame["delta_mean_logprob"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].head(n), f"The {n} pair(s) with the largest |Δ typicality| (no influence.parquet: `typicality influence` computes it)"


def token_view_content(audit: AuditFolder, chosen: pd.DataFrame, backend: ScoringBackend, selection: str) -> dict:
    """tokens.json's content: each chosen pair with both responses token by token, and their cached sums beside."""
    responses = audit.data.responses.set_index("response_id")
    cached = audit.scores.table.set_index("response_id")
    ids = [response_id for _, row in chosen.iterrows() for response_id in (row["response_a"], row["response_b"])]
    texts = [(str(responses.loc[i, "prompt"]), str(responses.loc[i, "response"])) for i in ids]
    found = dict(zip(ids, token_logprobs(backend, texts)))
    largest = 0.0
    out = []
    for _, row in chosen.iterrows():
        entries = []
        for side in ("a", "b"):
            response_id = row[f"response_{side}"]
            tokens = found[response_id]
            if isinstance(tokens, Skipped):
                raise TypicalityError(f"Response {response_id} of pair {row['comparison']} cannot be scored ({tokens.reason}), yet the audit scored it.")
            cached_sum = float(cached.loc[response_id, "sum_logprob"])
            largest = max(largest, abs(tokens.sum_logprob - cached_sum))
            entries.append({
                "side": side,
                "response_id": str(response_id),
                "n_tokens": tokens.n_tokens,
                "sum_logprob": tokens.sum_logprob,
                "mean_logprob": tokens.sum_logprob / tokens.n_tokens,
                "cached_sum_logprob": cached_sum,
                "boundary_merged": tokens.boundary_merged,
                "truncated": tokens.truncated,
                "pieces": list(tokens.pieces),
                "logprobs": list(tokens.logprobs),
            })
        out.append({
            "comparison": int(row["comparison"]),
            "prompt_id": str(row["prompt_id"]),
            "label": float(row["label"]),
            "delta": float(row["delta_mean_logprob"]),
            "influence": None if pd.isna(row["influence"]) else float(row["influence"]),
            "rank": None if pd.isna(row["rank"]) else int(row["rank"]),
            "prompt_end": prompt_end(responses.loc[row["response_a"], "prompt"]),
            "responses": entries,
        })
    return {
        "model": backend.identity.fingerprint(),
        "estimate": audit.influence_summary.estimate if audit.influence_summary is not None else audit.results.headline.estimate,
        "selection": selection,
        "max_sum_difference": largest,
        "sum_tolerance": SUM_TOLERANCE,
        "pairs": out,
    }
