"""The estimates as a table in the terminal (`typicality fit`, `typicality audit`), and a few pairs as read (`typicality inspect`).

The numbers are worded by `typicality.formatting`, and the agreement and ordinal lines are the
typed results' own `summary()` sentences, so the terminal, the report and a notebook say the same.
Text from the data only ever reaches the terminal through `DataConsole` (typicality.safe_text) or as
rich `Text` with control characters shown escaped (`data_text`), so none can drive the terminal or be
read as markup.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from typicality.domain import PreferenceData
from typicality.formatting import fmt, fmt_coef, fmt_count, fmt_interval, fmt_p, fmt_signed, fmt_slice
from typicality.results import AuditResults
from typicality.safe_text import DataConsole, printable

PREVIEW_CHARS = 70
EXAMPLE_PAIRS = 4
PREFERRED_WORDS = {1.0: "response_a", 0.0: "response_b", 0.5: "tie"}


def print_results(results: AuditResults) -> None:
    """The estimates as a table, then agreement, ordinal model and warnings."""
    console = DataConsole(width=160)
    table = Table(title=f"Typicality bias in {results.dataset.name} ({fmt_count(results.pairs.pairs)} pairs)")
    for column in ("slice", "typicality", "controls", "alpha", "SE", "95% CI", "p", "OR/SD", "win +/-1SD", "pairs", "prompts"):
        table.add_column(column)
    for e in results.estimates:
        head = [fmt_slice(e.slice), e.typicality, ", ".join(e.controls) or "-"]
        counts = [fmt_count(e.n_pairs), fmt_count(e.n_clusters)]
        if not e.fitted:
            table.add_row(*head, f"not fitted: {e.reason}", "", "", "", "", "", *counts)
            continue
        table.add_row(
            *head, fmt_coef(e.alpha), fmt_coef(e.se), fmt_interval(e.ci_low, e.ci_high), fmt_p(e.p_value),
            fmt(e.odds_ratio_per_sd, 2), fmt_signed(e.win_prob_change), *counts,
        )
    console.print(table)
    sentences = [results.agreement.summary()]
    if results.ordinal is not None and results.ordinal.fitted:
        sentences.append(results.ordinal.summary())
    if results.groups is not None:
        sentences.append(results.groups.summary())
    sentences.extend(f"warning: {message}" for message in results.warnings)
    for sentence in sentences:
        console.print(sentence, highlight=False)


def data_text(value, limit: int = PREVIEW_CHARS) -> Text:
    """A text from the data as a terminal-safe preview: whitespace runs as one space, control characters escaped, cut at `limit`."""
    text = " ".join(str(value).split())
    text = printable(text)
    return Text(text if len(text) <= limit else text[: limit - 1] + "…")


def pair_examples(data: PreferenceData, n: int = EXAMPLE_PAIRS) -> list[dict]:
    """The first `n` pairs as read (prompt, both responses, which one is preferred), a tie among them when the data has one.

    What `typicality inspect` shows so that a person can check the labels' orientation before scoring.
    """
    comparisons = data.comparisons
    chosen = list(comparisons.index[:n])
    ties = comparisons.index[comparisons["label"] == 0.5]
    if len(ties) and not (comparisons.loc[chosen, "label"] == 0.5).any():
        chosen = chosen[: n - 1] + [ties[0]]
    texts = data.responses.set_index("response_id")
    examples = []
    for index in chosen:
        row = comparisons.loc[index]
        label = float(row["label"])
        examples.append(
            {
                "prompt": str(texts.loc[row["response_a"], "prompt"]),
                "response_a": str(texts.loc[row["response_a"], "response"]),
                "response_b": str(texts.loc[row["response_b"], "response"]),
                "label": label,
                "preferred": PREFERRED_WORDS.get(label, f"label {label}"),
            }
        )
    return examples


def print_pair_examples(data: PreferenceData, console: DataConsole, n: int = EXAMPLE_PAIRS) -> None:
    """A few pairs as read, to check which response the labels prefer before paying for scoring."""
    examples = pair_examples(data, n)
    if not examples:
        return
    table = Table(title=f"{len(examples)} pairs as read: check that 'preferred' matches the data before scoring")
    for column in ("prompt", "response_a", "response_b", "preferred"):
        table.add_column(column, overflow="fold")
    for example in examples:
        table.add_row(
            data_text(example["prompt"]), data_text(example["response_a"], 40), data_text(example["response_b"], 40), Text(example["preferred"])
        )
    console.print(table)
