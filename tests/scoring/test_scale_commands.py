"""Past one machine from the command line: --shard, merge-cache, the endpoint flags, --device-map."""

from __future__ import annotations

import types

import numpy as np
import pytest

from tests.scoring.helpers import data_from_texts
from tests.scoring.openai_servers import FakeCompletionsServer, char_logprob
from tests.scoring.test_cli_score import write_hh_file
from typicality.cli import main
from typicality.errors import TypicalityError
from typicality.scoring import load_scores
from typicality.scoring.runner import score
from typicality.scoring.transformers_backend import _first_device

PAIRS = [("\n\nHuman: Can you help me?\n\nAssistant:", " Sure, I can help you with that."), ("Q: the capit", "al of Italy is Rome."), ("Hi", " there")]


def test_shards_and_merge_cache_from_the_command_line(tmp_path, capsys):
    data_file = write_hh_file(tmp_path / "test.jsonl")
    with FakeCompletionsServer() as fake:
        common = [
            "score",
            "hh-rlhf",
            "--data-files",
            str(data_file),
            "--model",
            f"openai:{fake.url}#fake-model",
            "--no-progress",
            "--concurrency",
            "2",
            "--no-check",
        ]
        for index in range(2):
            assert main(common + ["--shard", f"{index}/2", "--cache-dir", str(tmp_path / f"c{index}"), "--out", str(tmp_path / f"s{index}.parquet")]) == 0
        capsys.readouterr()
        assert main(["merge-cache", str(tmp_path / "c0"), str(tmp_path / "c1"), "--into", str(tmp_path / "all")]) == 0
        assert "now holds 4 scores" in capsys.readouterr().out
        assert main(common + ["--cache-dir", str(tmp_path / "all"), "--out", str(tmp_path / "all.parquet")]) == 0
        assert "4 from cache, 0 computed" in capsys.readouterr().out
        assert fake.counts["POST /v1/completions"] == 4  # each response asked for once, by its shard
    parts = [load_scores(tmp_path / f"s{i}.parquet").table for i in range(2)]
    whole = load_scores(tmp_path / "all.parquet").table.set_index("response_id")
    assert set(parts[0]["response_id"]) | set(parts[1]["response_id"]) == set(whole.index)
    assert not set(parts[0]["response_id"]) & set(parts[1]["response_id"])


def test_endpoint_flags_are_checked_against_the_model(tmp_path, capsys):
    data_file = write_hh_file(tmp_path / "test.jsonl")
    base = ["score", "hh-rlhf", "--data-files", str(data_file), "--out", str(tmp_path / "s.parquet")]
    assert main(base + ["--model", "gemma-3-270m", "--concurrency", "4"]) == 2
    assert "--concurrency applies to openai:URL#MODEL models" in capsys.readouterr().err
    assert main(base + ["--model", "openai:http://127.0.0.1:9/v1#m", "--device-map", "auto"]) == 2
    assert "--device-map applies to in-process (transformers) models" in capsys.readouterr().err
    assert main(base + ["--model", "openai:http://127.0.0.1:9/v1#m", "--shard", "2/2"]) == 2
    assert "--shard '2/2'" in capsys.readouterr().err


def test_wrong_model_name_from_the_command_line_is_one_line(tmp_path, capsys):
    data_file = write_hh_file(tmp_path / "test.jsonl")
    with FakeCompletionsServer(model="org/base") as fake:
        code = main(["score", "hh-rlhf", "--data-files", str(data_file), "--model", f"openai:{fake.url}#org/typo", "--out", str(tmp_path / "s.parquet")])
    error = capsys.readouterr().err
    messages = [line for line in error.splitlines() if line.startswith("typicality:")]  # datasets' progress may precede
    assert code == 2 and "Traceback" not in error and len(messages) == 1
    assert "does not serve a model named 'org/typo'; it serves: org/base" in error


def test_endpoint_scores_in_the_table_equal_hand_sums(tmp_path):
    with FakeCompletionsServer() as fake:
        result = score(data_from_texts(PAIRS), f"openai:{fake.url}#fake-model", cache_dir=tmp_path, progress=False)
    expected = [sum(map(char_logprob, r)) / len(r) for _, r in PAIRS]
    np.testing.assert_allclose(result.table["mean_logprob"], expected, rtol=1e-12)


def test_device_map_auto_gives_the_same_scores(tiny, tiny_model_dir, tmp_path):
    from typicality.scoring import load_backend

    spread = load_backend(str(tiny_model_dir), device_map="auto", progress=False)
    assert spread.describe()["device_map"] == "auto" and spread.identity == tiny.identity  # placement never changes the key
    data = data_from_texts(PAIRS)
    one = score(data, tiny, cache_dir=tmp_path / "one", progress=False)
    many = score(data, spread, cache_dir=tmp_path / "many", progress=False)
    np.testing.assert_allclose(many.table["sum_logprob"], one.table["sum_logprob"], rtol=1e-6)
    with pytest.raises(TypicalityError, match="--device or --device-map, not both"):
        load_backend(str(tiny_model_dir), device="cpu", device_map="auto", progress=False)


def test_first_device_of_a_spread_model():
    assert _first_device(types.SimpleNamespace(hf_device_map={"model.embed_tokens": 0, "model.layers.0": 1, "lm_head": "cpu"})) == "cuda:0"
    assert _first_device(types.SimpleNamespace(hf_device_map={"model": "cpu"})) == "cpu"
    assert _first_device(types.SimpleNamespace(hf_device_map={"model.embed_tokens": "disk", "model.layers": "mps"})) == "mps"
