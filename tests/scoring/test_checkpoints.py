"""Converting a GGUF once: the checkpoint appears whole or not at all, and a killed conversion leaves no debris."""

from __future__ import annotations

import pytest

from typicality.scoring import checkpoints
from typicality.scoring.paths import CACHE_ENV, cache_root, models_dir


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def fake_convert(fail: bool):
    def convert(label, make_gguf, staging, progress):
        (staging / "model.safetensors").write_bytes(b"half-written")
        if fail:
            raise KeyboardInterrupt  # as when the user stops a conversion midway
        (staging / "config.json").write_text("{}")

    return convert


def test_cache_root_follows_the_environment(cache):
    assert cache_root() == cache and models_dir() == cache / "models"


def test_an_interrupted_conversion_leaves_nothing_and_a_later_one_completes(cache, monkeypatch):
    monkeypatch.setattr(checkpoints, "_convert", fake_convert(fail=True))
    with pytest.raises(KeyboardInterrupt):
        checkpoints.converted_gguf("model", "ab" * 32, lambda staging: staging / "x.gguf", progress=False)
    assert list(models_dir().iterdir()) == []  # no half checkpoint, no staging folder

    monkeypatch.setattr(checkpoints, "_convert", fake_convert(fail=False))
    target = checkpoints.converted_gguf("model", "ab" * 32, lambda staging: staging / "x.gguf", progress=False)
    assert target.name == "model-abababababab-v1" and (target / "config.json").exists()
    calls = []
    monkeypatch.setattr(checkpoints, "_convert", lambda *args: calls.append(args))
    assert checkpoints.converted_gguf("model", "ab" * 32, lambda staging: staging / "x.gguf", progress=False) == target
    assert calls == []  # converted once, reused after


def test_staging_left_by_a_killed_process_is_removed(cache, monkeypatch):
    abandoned = models_dir() / ".tmp-model-abababababab-v1-999999999"  # no such process
    abandoned.mkdir(parents=True)
    (abandoned / "model.safetensors").write_bytes(b"partial")
    monkeypatch.setattr(checkpoints, "_convert", fake_convert(fail=False))
    checkpoints.converted_gguf("model", "ab" * 32, lambda staging: staging / "x.gguf", progress=False)
    assert not abandoned.exists()
