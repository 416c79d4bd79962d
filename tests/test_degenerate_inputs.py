"""Degenerate inputs through the CLI and the Python API: named, counted or refused with one message, never a traceback.

Each case once went wrong: duplicate rows counted as independent pairs, infinite ratings taken as
ratings, estimate ids written twice, one prompt, empty and header-only files, a file name with `[`,
all-ties data refused only after scoring, a free-text column sliced per value, and slice names
that overflow the estimates table.
"""

from __future__ import annotations

import collections
import json

import numpy as np
import pandas as pd
import pytest

from tests.data.files import write_jsonl
from tests.data.test_bad_input import error_of  # exit 2, one error line, no traceback
from tests.report.synthetic import score_card
from typicality.audit_folder import load_results, save_analysis
from typicality.cli import main
from typicality.data import load
from typicality.data.build import DUPLICATE_COMPARISON, from_pairs
from typicality.domain import ANNOTATOR_COLUMN, SCORE_COLUMNS, Accounting, ScoreResult
from typicality.errors import TypicalityError
from typicality.formatting import SLICE_NAME_CHARS, fmt_slice
from typicality.pipeline import write_simulation
from typicality.report.content import estimate_rows
from typicality.report.terminal import print_results
from typicality.stats import analyze, analyze_with_design
from typicality.stats.pair_design import MAX_SLICE_VALUES


def inspect_json(capsys, path) -> dict:
    assert main(["inspect", "pairs", "--data-files", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def scored(data, seed: int = 0, n_tokens: int | None = None) -> ScoreResult:
    """Made-up scores for every response of `data` in the scorer's schema (random typicality; `n_tokens` fixes every length)."""
    rng = np.random.default_rng(seed)
    responses = data.responses
    tokens = np.full(len(responses), n_tokens, dtype="int64") if n_tokens else rng.integers(5, 200, len(responses)).astype("int64")
    mean = rng.normal(-2.0, 0.8, len(responses))
    table = pd.DataFrame(
        {"prompt_id": responses["prompt_id"], "response_id": responses["response_id"], "n_tokens": tokens, "sum_logprob": mean * tokens,
         "mean_logprob": mean, "truncated": False, "prompt_truncated": False, "boundary_merged": False, "skipped": None, "model": "test-model"},
        columns=SCORE_COLUMNS,
    )  # fmt: skip
    return ScoreResult(table, score_card(table))


def pair_rows(n: int, **extra) -> list[dict]:
    """n judged pairs, one per prompt; each keyword gives a metadata column as a function of the row number."""
    return [
        {"prompt": f"question {i}", "chosen": f"a good answer {i}", "rejected": f"a poor answer {i}", **{key: value(i) for key, value in extra.items()}}
        for i in range(n)
    ]


# ---------------------------------------------------------------------------------------------
# Duplicates


def test_exact_duplicate_rows_are_dropped_and_counted(tmp_path, capsys):
    path = write_jsonl(tmp_path / "dups.jsonl", pair_rows(5) * 3)  # 5 pairs, each 3 times
    summary = inspect_json(capsys, path)
    assert summary["n_comparisons"] == 5
    assert summary["dropped"] == {DUPLICATE_COMPARISON: 10}

    # The agreement counts 5 pairs, not 15; computed here from the loaded tables.
    data = load("pairs", data_files=str(path))
    scores = scored(data)
    results = analyze(data, scores)
    assert results.agreement.n_pairs == 5
    assert results.dataset.accounting["dropped"] == {DUPLICATE_COMPARISON: 10}
    typicality = scores.table.set_index("response_id")["mean_logprob"]
    chosen_more_typical = typicality.loc[data.comparisons["response_a"]].to_numpy() > typicality.loc[data.comparisons["response_b"]].to_numpy()
    assert results.agreement.n_agree == int(chosen_more_typical.sum())


def test_a_duplicate_is_the_same_judgement_in_either_orientation_and_a_conflicting_one_is_kept():
    # (a over b), (b under a) repeat it; (b over a) and a tie are other judgements of the same pair; another prompt is another pair.
    prompts = ["Q", "Q", "Q", "Q", "Q", "R"]
    first = ["a", "b", "b", "a", "a", "a"]
    second = ["b", "a", "a", "b", "b", "b"]
    labels = [1.0, 0.0, 1.0, 0.5, 1.0, 1.0]
    data = from_pairs("hand-built", prompts, first, second, labels, Accounting(rows_read=6))
    assert data.accounting.dropped == {DUPLICATE_COMPARISON: 2}  # rows 2 and 5 repeat row 1
    assert data.comparisons["label"].tolist() == [1.0, 1.0, 0.5, 1.0]
    assert any("1 pairs of responses are judged more than once with different labels" in note for note in data.accounting.notes)


def test_the_same_verdict_from_another_annotator_is_a_second_judgement():
    accounting = Accounting(rows_read=3)
    data = from_pairs("hand-built", ["Q"] * 3, ["a"] * 3, ["b"] * 3, [1.0] * 3, accounting, pair_metadata={ANNOTATOR_COLUMN: ["ann1", "ann2", "ann1"]})
    assert len(data.comparisons) == 2
    assert accounting.dropped == {DUPLICATE_COMPARISON: 1}


# ---------------------------------------------------------------------------------------------
# Infinite ratings, unique estimate ids, one prompt


def test_infinite_ratings_are_refused_by_column_and_count(tmp_path, capsys):
    rows = [{"prompt": f"prompt {p}", "response": f"response {p}.{r}", "helpfulness": (p + r) % 5, "correctness": float("inf") if r == 0 else 1.0}
            for p in range(6) for r in range(3)]  # fmt: skip
    rows[4]["correctness"] = float("-inf")
    path = write_jsonl(tmp_path / "rated.jsonl", rows)  # json writes Infinity and -Infinity
    message = error_of(capsys, ["inspect", "ratings", "--data-files", path, "--rating", "helpfulness"])
    assert "the rating column 'correctness' holds 7 infinite values (inf or -inf)" in message
    assert "leave them empty (null)" in message


def test_every_estimate_id_is_unique_when_a_control_is_dropped(tmp_path):
    # Every response has 10 tokens: the length control is constant and each length-controlled fit runs without it.
    rows = [{"prompt": f"p{p}", "response": f"r{p}.{i}", "helpfulness": (i + p) % 4, "correctness": (i * p) % 3} for p in range(30) for i in range(4)]
    from tests.stats.builders import rated

    data = rated(rows)
    results, design = analyze_with_design(data, scored(data, n_tokens=10))
    ids = [estimate.id for estimate in results.estimates]
    assert len(ids) == len(set(ids)), collections.Counter(ids).most_common(3)
    dropped = [e for e in results.estimates if e.dropped_controls]
    assert dropped and all(e.dropped_controls == ["length"] and "length" not in e.controls and e.id.endswith("|dropped:length") for e in dropped
                           if e.estimator == "logit")  # fmt: skip
    assert all(any("Control length is constant" in w for w in e.warnings) for e in dropped if e.estimator == "logit")
    assert results.headline.length_controlled is None  # no fit controlled for length
    write_simulation(data, scored(data, n_tokens=10), tmp_path)
    save_analysis(results, design, tmp_path)
    assert [e.id for e in load_results(tmp_path).estimates] == ids  # read back: each id checked against its fields


def test_one_prompt_is_refused_with_one_message(tmp_path, capsys):
    rows = [{"prompt": "the only question", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(12)]
    data = load("pairs", data_files=write_jsonl(tmp_path / "one.jsonl", rows))
    write_simulation(data, scored(data), tmp_path / "folder")
    message = error_of(capsys, ["fit", str(tmp_path / "folder")])
    assert "all 12 judged comparisons that are not ties are under one prompt" in message
    assert "clustered standard errors need at least 2 prompts" in message
    assert not (tmp_path / "folder" / "results.json").exists()


# ---------------------------------------------------------------------------------------------
# Files


def test_an_empty_jsonl_file_is_named(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    message = error_of(capsys, ["inspect", "pairs", "--data-files", str(path)])
    assert message.endswith(f"{path}: the file is empty (no rows). Give a file with at least one row, or leave it out of --data-files.")


def test_a_header_only_csv_is_named(tmp_path, capsys):
    path = tmp_path / "pairs.csv"
    path.write_text("prompt,chosen,rejected\n", encoding="utf-8")
    assert f"{path}: the file has a header line but no rows" in error_of(capsys, ["inspect", "pairs", "--data-files", str(path)])


def test_a_file_name_with_glob_characters_is_read_as_given(tmp_path, capsys):
    path = write_jsonl(tmp_path / "pairs[1].jsonl", pair_rows(4))
    write_jsonl(tmp_path / "pairs1.jsonl", pair_rows(7))  # what the name would match as a glob pattern
    assert inspect_json(capsys, path)["n_comparisons"] == 4
    assert inspect_json(capsys, tmp_path / "pairs*.jsonl")["n_comparisons"] == 7  # a pattern still globs both files (pairs[1]'s 4 pairs repeat pairs1's)


# ---------------------------------------------------------------------------------------------
# All ties


def tie_rows(n: int) -> list[dict]:
    return [{"prompt": f"question {i}", "response_a": f"answer {i}", "response_b": f"other answer {i}", "label": 0.5} for i in range(n)]


@pytest.mark.parametrize(
    "rows, expected",
    [
        (tie_rows(20), "All 20 judged comparisons of dataset 'pairs' are ties, and ties are dropped (--ties drop, the default), so no pair is left"),
        ([{"prompt": "Q", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(12)], "all 12 judged comparisons that are not ties are under one"),
    ],
    ids=["all-ties", "one-prompt"],
)
def test_audit_refuses_unfittable_data_before_scoring_and_writes_nothing(tmp_path, capsys, monkeypatch, rows, expected):
    def no_scoring(*args, **kwargs):
        raise AssertionError("scored data that cannot be fitted")

    monkeypatch.setattr("typicality.scoring.score", no_scoring)
    out = tmp_path / "audit"
    message = error_of(capsys, ["audit", "pairs", "--data-files", write_jsonl(tmp_path / "data.jsonl", rows), "--out", str(out), "--no-progress"])
    assert expected in message
    assert not out.exists() or not any(out.iterdir())  # nothing written: the corrected command is not refused


def test_all_ties_name_the_ties_fix_in_fit_and_the_fix_works(tmp_path, capsys):
    path = write_jsonl(tmp_path / "ties.jsonl", tie_rows(20))
    data = load("pairs", data_files=path)
    write_simulation(data, scored(data), tmp_path / "folder")
    assert "Pass --ties half" in error_of(capsys, ["fit", str(tmp_path / "folder")])
    results = analyze(data, scored(data), ties="half")  # the fix works
    assert results.pairs.pairs == 20 and results.pairs.ties_kept_as_half == 20


# ---------------------------------------------------------------------------------------------
# Slices: a free-text column, long names


def test_a_high_cardinality_column_is_not_sliced_by_default_and_the_results_say_why(tmp_path):
    n = MAX_SLICE_VALUES + 10
    path = write_jsonl(tmp_path / "free.jsonl", pair_rows(n, domain=lambda i: f"free text {i}", subset=lambda i: "ab"[i % 2]))
    data = load("pairs", data_files=path)
    results = analyze(data, scored(data))
    slices = {estimate.slice for estimate in results.estimates}
    assert not any(name.startswith("domain=") for name in slices)
    assert {"subset=a", "subset=b"} <= slices  # a categorical column is still sliced
    assert f"Metadata column 'domain' has {n} distinct values (more than {MAX_SLICE_VALUES})" in " ".join(results.warnings)
    named = analyze(data, scored(data), slices=["domain"])  # named, it is sliced
    assert len({e.slice for e in named.estimates if e.slice.startswith("domain=")}) == n


def test_long_slice_names_are_shortened_for_display_and_kept_whole_in_results(tmp_path, capsys):
    long_value = "a category name that goes on and on " * 4
    path = write_jsonl(tmp_path / "long.jsonl", pair_rows(40, category=lambda i: f"{long_value}{i % 2}"))
    data = load("pairs", data_files=path)
    results, design = analyze_with_design(data, scored(data))
    names = sorted({e.slice for e in results.estimates if e.slice.startswith("category=")})
    assert names == [f"category={long_value}0", f"category={long_value}1"]
    shown = [fmt_slice(name) for name in names]
    assert all(len(text) == SLICE_NAME_CHARS and "…" in text for text in shown) and shown[0] != shown[1]

    print_results(results)
    terminal = capsys.readouterr().out
    assert long_value not in terminal.replace("\n", "")
    table_rows = [row for row in estimate_rows(results) if row["slice"].startswith("category=")]
    assert {row["slice"] for row in table_rows} == set(shown)
    save_analysis(results, design, tmp_path)
    assert {e.slice for e in load_results(tmp_path).estimates} >= set(names)


@pytest.mark.parametrize("name", ["all", "x" * SLICE_NAME_CHARS])
def test_a_short_slice_name_is_shown_whole(name):
    assert fmt_slice(name) == name


def test_analyze_api_refuses_one_prompt_by_exception():
    data = from_pairs("hand-built", ["Q"] * 12, [f"a{i}" for i in range(12)], [f"b{i}" for i in range(12)], [1.0] * 12, Accounting(rows_read=12))
    with pytest.raises(TypicalityError, match="under one prompt"):
        analyze(data, scored(data))
