"""`--engine ray` on a real local Ray cluster (`ray.init(num_cpus=2)`, workers on CPU).

Against the single-process scorer on real HH-RLHF responses with the embedded model: the same
cache rows; a worker killed mid-run still leaves every response scored exactly once; a re-run
sends nothing to the workers. A fake backend with known scores checks that a response failing
twice (an exception, or a worker process that dies) is recorded as skipped, never lost. One
cluster for the module. The option checks need no Ray.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.scoring.helpers import data_from_texts
from tests.scoring.ray_fakes import KILLS, RAISES, known_score
from typicality.errors import TypicalityError
from typicality.scoring import ScoringOptions, score
from typicality.scoring.backends import BACKENDS, register_backend
from typicality.scoring.requests import text_key

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5  # nats per token: each response's mean log-probability (its sum within 1e-5 x its tokens)


# -- options (no Ray needed) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"workers": 2}, "--workers applies to --engine ray only; add --engine ray or drop it"),
        ({"gpus_per_worker": 1.0, "ray_address": "auto"}, "--ray-address, --gpus-per-worker applies to --engine ray only"),
        ({"engine": "spark"}, "--engine must be one of local, ray, got 'spark'"),
        ({"engine": "ray", "workers": 0}, "--workers must be a whole number of at least 1, got 0"),
        ({"engine": "ray", "gpus_per_worker": -1}, "--gpus-per-worker must be a number of at least 0"),
        ({"engine": "ray", "ray_batch_size": 0}, "--ray-batch-size must be a whole number of at least 1"),
        ({"engine": "ray", "model": "openai:http://127.0.0.1:9/v1#m"}, "Drop --engine ray and raise --concurrency instead"),
    ],
)
def test_ray_options_are_checked_before_anything_starts(settings, message, tmp_path):
    with pytest.raises(TypicalityError) as error:
        ScoringOptions.create(cache_dir=str(tmp_path), **settings).validate()
    assert message in str(error.value)


def test_without_ray_installed_the_error_names_the_fix(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(TypicalityError, match=r"--engine ray needs Ray .*: pip install 'typicality\[ray\]'"):
        ScoringOptions(engine="ray", cache_dir=str(tmp_path)).validate()


def test_a_loaded_backend_cannot_go_to_ray(tiny, tmp_path):
    with pytest.raises(TypicalityError, match="engine='ray' loads the model in the Ray workers"):
        score(data_from_texts([("Hi", " there")]), tiny, engine="ray", cache_dir=tmp_path, progress=False)


def test_the_cli_flags_reach_the_options(tmp_path):
    from typicality.cli import build_parser, scoring_options

    args = build_parser().parse_args(["score", "hh-rlhf", "--out", "x.parquet", "--cache-dir", str(tmp_path), "--engine", "ray",
                                      "--ray-address", "auto", "--workers", "3", "--gpus-per-worker", "0.5", "--ray-batch-size", "16"])
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install 'typicality[ray]'; make test installs it)")
    options = scoring_options(args)
    assert (options.engine, options.ray_address, options.workers, options.gpus_per_worker, options.ray_batch_size) == ("ray", "auto", 3, 0.5, 16)


def test_importing_typicality_and_local_options_never_import_ray(tmp_path):
    code = (
        "import json, sys\n"
        "import typicality, typicality.scoring, typicality.cli, typicality.pipeline\n"
        f"typicality.scoring.ScoringOptions(cache_dir={str(tmp_path)!r}).validate()\n"
        "print(json.dumps('ray' in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) is False


# -- a local Ray cluster ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module: 2 CPUs, no dashboard, no usage stats (offline)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'typicality[ray]'; make test installs it)")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def hh_sample():
    """Six real HH-RLHF pairs (helpful-base), short ones: 12 responses."""
    from tests.scoring.test_gemma import short_pairs

    return short_pairs("helpful-base", 6, seed=3)


def cache_rows(folder: Path) -> dict[str, tuple]:
    with closing(sqlite3.connect(folder / "scores.sqlite")) as connection:
        rows = connection.execute("SELECT text_key, fingerprint, n_tokens, sum_logprob, truncated, prompt_truncated, boundary_merged FROM scores").fetchall()
    assert len({row[0] for row in rows}) == len(rows)
    return {row[0]: row[1:] for row in rows}


def committed(database: Path) -> int:
    """Rows committed so far (0 before the driver has created the table)."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            return connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def scorer_processes() -> list:
    """This test's Ray scoring workers: processes under this one whose title names the worker class."""
    import psutil

    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "ScorerWorker" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.Error:
            pass
    return found


@pytest.mark.slow
def test_ray_workers_with_one_killed_mid_run_write_the_single_process_rows_once_each(cluster, gemma, hh_sample, tmp_path):
    local = score(hh_sample, gemma, cache_dir=tmp_path / "local", progress=False)
    expected = cache_rows(tmp_path / "local")
    assert len(expected) == len(hh_sample.responses) == 12
    database = tmp_path / "ray" / "scores.sqlite"
    killed: dict = {}

    def kill_one_worker_after_the_first_commit():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            workers = scorer_processes()
            done = committed(database)
            if workers and 0 < done < len(expected):
                killed.update(pid=workers[0].pid, done_before=done)
                os.kill(workers[0].pid, signal.SIGKILL)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker_after_the_first_commit, daemon=True)
    killer.start()
    on_ray = score(hh_sample, "gemma-3-270m", engine="ray", workers=2, ray_batch_size=2, cache_dir=tmp_path / "ray", progress=False)
    killer.join(timeout=5)
    assert killed, "no worker was killed while responses remained: the run ended before its first commit was seen"
    assert 0 < killed["done_before"] < len(expected)

    # Every response scored once (the key is the cache's primary key; checked unique), none skipped, none delivered twice.
    card = on_ray.card
    assert card.engine == "ray" and card.fingerprint == local.card.fingerprint
    assert card.n_computed == len(expected) and card.skipped == {} and card.ray_sent == len(expected) and card.ray_duplicate_rows == 0
    # The rows the single-process scorer wrote: same keys, fingerprint, token counts and flags; scores within 1e-5 nats per
    # token (other batches, and 1 thread per worker against 2: float32 sums in another order).
    found = cache_rows(tmp_path / "ray")
    assert found.keys() == expected.keys()
    for key, (fingerprint, n_tokens, total, *flags) in expected.items():
        assert found[key][:2] == (fingerprint, n_tokens) and list(found[key][3:]) == flags
        assert abs(found[key][2] - total) / n_tokens <= TOLERANCE, (key, found[key][2], total, n_tokens)

    # A second run finds everything in the cache and sends nothing to the workers.
    again = score(hh_sample, "gemma-3-270m", engine="ray", workers=2, cache_dir=tmp_path / "ray", progress=False)
    assert again.card.n_from_cache == len(expected) and again.card.n_computed == 0
    assert again.card.ray_sent == 0 and again.card.ray_worker_processes == 0
    assert cache_rows(tmp_path / "ray") == found
    assert again.table["sum_logprob"].tolist() == on_ray.table["sum_logprob"].tolist()


@pytest.fixture()
def flaky_backend():
    register_backend("ray-test-flaky", "tests.scoring.ray_fakes:load_flaky")
    yield "ray-test-flaky"
    BACKENDS.pop("ray-test-flaky")


@pytest.mark.slow
def test_a_response_that_fails_twice_is_skipped_with_its_reason_and_its_neighbours_are_scored(cluster, flaky_backend, tmp_path):
    from typicality.scoring.ray_engine import WORKER_DIED, failed_twice

    # Longest first, four per task: the killer shares the first task, the raiser the second.
    texts = [("Q: ", f"{KILLS} " + "k" * 60)] + [("Q: ", "a" * (50 - i)) for i in range(3)]
    texts += [("Q: ", f"{RAISES} " + "r" * 10)] + [("Q: ", "b" * (12 - i)) for i in range(3)]
    data = data_from_texts(texts)
    result = score(data, "flaky", backend=flaky_backend, engine="ray", workers=2, ray_batch_size=4, check=False, cache_dir=tmp_path, progress=False)
    table = result.table.set_index("response_id")
    reasons = dict(zip(data.responses["response"], table.loc[data.responses["response_id"], "skipped"]))
    assert reasons[texts[0][1]] == WORKER_DIED
    assert reasons[texts[4][1]] == failed_twice(RuntimeError())
    assert result.card.skipped == {WORKER_DIED: 1, failed_twice(RuntimeError()): 1}
    rows = cache_rows(tmp_path)
    scored = [(p, r) for p, r in texts if KILLS not in r and RAISES not in r]
    assert rows.keys() == {text_key(p, r) for p, r in scored}  # the six others: none lost, the dead ones not written
    for p, r in scored:
        assert rows[text_key(p, r)][1:4] == (known_score(r).n_tokens, known_score(r).sum_logprob, 0)
    # The killer's task, lost twice, is sent again one response per task; the raiser's task too when Ray had queued it on
    # the killer's actor (a dead actor loses every task in flight on it, which scheduling decides, not the test).
    assert result.card.ray_sent_again in (4, 8)
