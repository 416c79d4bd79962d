"""`typicality audit` end to end on a tiny model: the folder, the numbers, the refusals and the resume."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.scoring.tiny_model import build_tiny_model
from typicality.audit_folder import IN_PROGRESS_FILE as IN_PROGRESS
from typicality.audit_folder import load_results
from typicality.cli import main
from typicality.data import LoadRequest
from typicality.errors import TypicalityError
from typicality.pipeline import audit
from typicality.scoring.options import ScoringOptions
from typicality.stats import AnalysisOptions

HOSTILE = "<script>document.title='pwned'</script><b>bold</b> {{ x }}"


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-model")))


def hh_file(path, n_pairs: int, identical: bool = False) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(n_pairs):
            prompt = f"\n\nHuman: Question number {index}: what is the capital of France?\n\nAssistant:"
            chosen = f" The capital of France is Paris. {HOSTILE if index == 0 else ''}"
            rejected = chosen if identical else f" I think that is a good question {index}."
            handle.write(json.dumps({"chosen": prompt + chosen, "rejected": prompt + rejected}) + "\n")
    return str(path)


def hh_request(data_file: str) -> LoadRequest:
    return LoadRequest("hh-rlhf", data_files=(data_file,))


def run_audit(data_file, out, model, cache, *extra) -> int:
    return main(["audit", "hh-rlhf", "--data-files", data_file, "--model", model, "--cache-dir", str(cache), "--out", str(out), "--no-progress", *extra])


def test_audit_writes_the_whole_folder_and_its_numbers_agree(tmp_path, tiny_model_dir):
    data_file = hh_file(tmp_path / "test.jsonl", 40)
    out = tmp_path / "audit"
    assert run_audit(data_file, out, tiny_model_dir, tmp_path / "cache") == 0
    for name in ("responses.parquet", "comparisons.parquet", "dataset.json", "scores.parquet", "pairs.parquet", "results.json", "report.md", "report.html"):
        assert (out / name).exists(), name
    assert list((out / "figures").glob("*.png"))
    assert not (out / IN_PROGRESS).exists()

    # The agreement rate, recomputed from the saved tables without the stats module.
    results = load_results(out)
    scores = pd.read_parquet(out / "scores.parquet").set_index("response_id")["mean_logprob"]
    comparisons = pd.read_parquet(out / "comparisons.parquet")
    chosen_higher = scores.loc[comparisons["response_a"]].to_numpy() > scores.loc[comparisons["response_b"]].to_numpy()
    assert results.agreement.n_pairs == 40
    assert results.agreement.rate == pytest.approx(chosen_higher.mean())

    html = (out / "report.html").read_text()
    assert "<script>document.title" not in html and "&lt;script&gt;" in html


def test_existing_folder_is_refused_unless_forced(tmp_path, tiny_model_dir, capsys):
    data_file = hh_file(tmp_path / "test.jsonl", 12)
    out = tmp_path / "audit"
    assert run_audit(data_file, out, tiny_model_dir, tmp_path / "cache") == 0
    capsys.readouterr()
    assert run_audit(data_file, out, tiny_model_dir, tmp_path / "cache") == 2
    assert "already exists" in capsys.readouterr().err and (out / "report.html").exists()
    assert run_audit(data_file, out, tiny_model_dir, tmp_path / "cache", "--force") == 0


def test_interrupted_audit_resumes_from_the_cache(tmp_path, tiny_model_dir, monkeypatch):
    data_file = hh_file(tmp_path / "test.jsonl", 12)
    out, cache = tmp_path / "audit", tmp_path / "cache"

    def crash(folder):
        raise KeyboardInterrupt

    monkeypatch.setattr("typicality.report.render_report", crash)
    with pytest.raises(KeyboardInterrupt):
        audit(hh_request(data_file), out, ScoringOptions(model=tiny_model_dir, cache_dir=str(cache)), progress=False)
    # The interrupted run leaves nothing where --out was, nor beside it: its scores are in the cache.
    assert not out.exists() and sorted(path.name for path in tmp_path.iterdir()) == ["cache", "test.jsonl"]
    monkeypatch.undo()

    audit(hh_request(data_file), out, ScoringOptions(model=tiny_model_dir, cache_dir=str(cache)), progress=False)
    card = json.loads((out / "scores.card.json").read_text())
    assert card["n_computed"] == 0 and card["n_from_cache"] == 24
    assert (out / "report.html").exists() and not (out / IN_PROGRESS).exists()


def test_dataset_with_no_usable_pairs_gives_a_clear_message_and_no_report(tmp_path, tiny_model_dir):
    data_file = hh_file(tmp_path / "test.jsonl", 5, identical=True)
    with pytest.raises(TypicalityError, match="no usable pairs.*identical responses: 5"):
        audit(hh_request(data_file), tmp_path / "audit", ScoringOptions(model=tiny_model_dir, cache_dir=str(tmp_path / "cache")), progress=False)
    assert not (tmp_path / "audit" / "report.html").exists()


def test_a_failed_load_leaves_nothing_that_blocks_the_next_attempt(tmp_path, tiny_model_dir):
    """`make audit` without network fails at the load; `make audit DATA_FILES=...` right after must run."""
    out, cache = tmp_path / "audit", tmp_path / "cache"
    scoring = ScoringOptions(model=tiny_model_dir, cache_dir=str(cache))
    with pytest.raises(TypicalityError, match="absent.jsonl"):
        audit(hh_request(str(tmp_path / "absent.jsonl")), out, scoring, progress=False)
    audit(hh_request(hh_file(tmp_path / "test.jsonl", 12)), out, scoring, progress=False)
    assert (out / "report.html").exists()


@pytest.mark.parametrize(
    "scoring, analysis, message",
    [
        ({"batch_tokens": 0}, {}, "batch"),
        ({"dtype": "float8"}, {}, "dtype"),
        ({}, {"ties": "keep"}, "ties"),
        ({}, {"typicalities": ("max_logprob",)}, "Unknown typicality"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(tmp_path, scoring, analysis, message):
    out = tmp_path / "audit"
    data_file = hh_file(tmp_path / "test.jsonl", 3)
    with pytest.raises(TypicalityError, match=message):
        audit(hh_request(data_file), out, ScoringOptions.create(**scoring), AnalysisOptions(**analysis), progress=False)
    assert not out.exists()


def test_a_corrupt_score_cache_is_refused_before_the_model_loads(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "scores.sqlite").write_bytes(b"this is not a sqlite database" * 100)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the cache was checked")

    monkeypatch.setattr("typicality.scoring.backends.load_backend", no_model)
    with pytest.raises(TypicalityError, match="cache"):
        audit(hh_request(hh_file(tmp_path / "test.jsonl", 3)), tmp_path / "audit", ScoringOptions(cache_dir=str(cache)), progress=False)
    assert not (tmp_path / "audit").exists()


def test_audit_takes_option_objects_only():
    with pytest.raises(TypicalityError, match="scoring must be a ScoringOptions"):
        audit("hh-rlhf", "unused", {"model": "x"})
