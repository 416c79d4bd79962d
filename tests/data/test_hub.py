"""Reading the Hugging Face Hub without a network: refused within seconds, naming --data-files,
unless `datasets` has the copy cached; and the provenance of a hub load (the commit it resolved to).

No test here reaches the real hub: an unreachable endpoint is simulated with HF_ENDPOINT pointing
at a closed port or at a server that accepts connections and never answers.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from tests.conftest import shared_file
from tests.data.files import write_jsonl
from typicality.data import load, reading
from typicality.errors import TypicalityError

COMMIT = "0123456789abcdef0123456789abcdef01234567"
PROMPT = "\n\nHuman: Hi\n\nAssistant:"


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty `datasets` cache for this test (datasets read its location at import, so set it there)."""
    cache = tmp_path / "hf-datasets"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    return cache


def test_the_cli_refuses_an_unreachable_hub_within_seconds(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}", HF_DATASETS_CACHE=str(tmp_path / "cache"))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "typicality.cli", "inspect", "hh-rlhf"], env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"typicality: error: Cannot reach the Hugging Face Hub at {env['HF_ENDPOINT']}" in done.stderr
    assert "'Anthropic/hh-rlhf' (data_dir=helpful-base, split test)" in done.stderr
    assert "pass them with --data-files PATH" in done.stderr
    assert elapsed < 10, f"took {elapsed:.1f} s"  # datasets' own retries take about 30 s


def test_a_hub_that_never_answers_is_refused_after_the_short_timeout(hub_cache, monkeypatch):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setattr(datasets.config, "HF_ENDPOINT", endpoint)
        monkeypatch.setattr(reading, "REACHABILITY_TIMEOUT_S", 2.0)
        started = time.monotonic()
        with pytest.raises(TypicalityError) as caught:
            load("shp", subset="askvet")
        elapsed = time.monotonic() - started
    assert str(caught.value).startswith(f"Cannot reach the Hugging Face Hub at {endpoint} (")
    assert "'stanfordnlp/SHP' (data_dir=askvet, split test)" in str(caught.value) and "--data-files" in str(caught.value)
    assert 2 <= elapsed < 10, f"took {elapsed:.1f} s"


def test_offline_mode_without_a_cached_copy_names_the_fix(hub_cache, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(reading, "unreachable_reason", lambda url, timeout=0: pytest.fail("offline mode must not touch the network"))
    with pytest.raises(TypicalityError) as caught:
        load("helpsteer2")
    message = str(caught.value)
    assert message.startswith("Offline mode is on (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE) and no cached copy of 'nvidia/HelpSteer2'")
    assert "--data-files PATH" in message


def cache_as_the_hub_would(cache: Path, source_file: Path) -> None:
    """Lay `source_file` into `cache` where `datasets` keeps Anthropic/hh-rlhf helpful-base at commit COMMIT."""
    builder = datasets.load_dataset_builder("json", data_files={"test": str(source_file)}, cache_dir=str(cache.parent / "build"))
    builder.download_and_prepare()
    config_id = datasets.BuilderConfig("default").create_config_id(config_kwargs={"data_dir": "helpful-base"})
    target = cache / "Anthropic___hh-rlhf" / config_id / "0.0.0" / COMMIT
    shutil.copytree(builder.cache_dir, target)
    for arrow in target.glob("json-*.arrow"):
        arrow.rename(target / arrow.name.replace("json-", "hh-rlhf-"))


def test_a_cached_copy_is_read_when_the_hub_is_unreachable(hub_cache, monkeypatch):
    source = shared_file("hh-rlhf", "helpful-base", "test.jsonl.gz")
    cache_as_the_hub_would(hub_cache, source)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    started = time.monotonic()
    cached = load("hh-rlhf")
    assert time.monotonic() - started < 10
    assert cached.provenance == [{"kind": "hub", "id": "Anthropic/hh-rlhf", "data_dir": "helpful-base", "split": "test", "revision": COMMIT}]
    direct = load("hh-rlhf", data_files=str(source))
    assert cached.responses.equals(direct.responses) and cached.comparisons.equals(direct.comparisons)
    assert datasets.config.HF_HUB_OFFLINE is False  # offline mode was switched on for that read only


class FakeBuilder:
    """What `datasets.load_dataset_builder` returns, reduced to what the reader uses."""

    def __init__(self, commit: str, rows: list[dict]):
        self.hash, self.rows, self.prepared = commit, rows, False

    def download_and_prepare(self):
        self.prepared = True

    def as_dataset(self, split):
        assert self.prepared
        return datasets.Dataset.from_list(self.rows)


@pytest.mark.parametrize(("builder_hash", "recorded"), [(COMMIT, COMMIT), ("not-a-commit", "v1.0")])
def test_hub_provenance_records_the_resolved_commit_and_revision_passes_through(monkeypatch, builder_hash, recorded):
    calls = []
    rows = [{"chosen": PROMPT + " a", "rejected": PROMPT + " b"}]

    def fake_builder(path, **kwargs):
        calls.append((path, kwargs))
        return FakeBuilder(builder_hash, rows)

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(reading, "unreachable_reason", lambda url, timeout=0: None)
    monkeypatch.setattr(datasets, "load_dataset_builder", fake_builder)
    data = load("hh-rlhf", subset="harmless-base", split="train", revision="v1.0")
    assert calls == [("Anthropic/hh-rlhf", {"revision": "v1.0", "data_dir": "harmless-base"})]
    assert data.provenance == [{"kind": "hub", "id": "Anthropic/hh-rlhf", "data_dir": "harmless-base", "split": "train", "revision": recorded}]
    assert data.title == "HH-RLHF harmless-base (train)"


def test_a_remote_data_file_on_an_unreachable_hub_is_refused_quickly(monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    started = time.monotonic()
    with pytest.raises(TypicalityError, match=r"Cannot reach 127\.0\.0\.1:\d+ \(.*\) to fetch hf://datasets/o/n/train\.jsonl\. Download"):
        load("pairs", data_files="hf://datasets/o/n/train.jsonl")
    assert time.monotonic() - started < 10


def test_reachability_of_a_server_that_answers(tmp_path):
    """Any HTTP answer counts as reachable, even a refusal (404 here)."""
    import http.server
    import threading

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert reading.unreachable_reason(f"http://127.0.0.1:{server.server_address[1]}/no/such/page") is None
    finally:
        server.shutdown()
    assert reading.unreachable_reason(f"http://127.0.0.1:{closed_port()}") is not None


def test_a_local_hh_file_needs_no_network(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "unreachable_reason", lambda url, timeout=0: pytest.fail("a local file must not touch the network"))
    path = write_jsonl(tmp_path / "t.jsonl", [{"chosen": PROMPT + " a", "rejected": PROMPT + " b"}])
    assert len(load("hh-rlhf", data_files=path).comparisons) == 1
