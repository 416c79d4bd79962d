"""`--engine ray`: the responses the cache lacks, scored by actor workers of a Ray cluster, written into the one cache here.

`RayEngine` is a `ScoringBackend` whose `score_into` spreads the work, so runner.py drives it
like any backend (cache look-ups, sharding, the table and the card stay there). A run:

1. Connect: `--ray-address` (or $RAY_ADDRESS), else a new local cluster on this machine's
   cores, started without the dashboard or usage stats (nothing that needs the network).
2. Probe: one Ray task with a worker's resources loads the backend and returns its identity
   (whose fingerprint keys the cache), its card facts and, for any model but the embedded one,
   the quick conformance check. The driver never loads the model; the probe costs one extra
   load per run, and its process exits afterwards, so it holds no GPU memory.
3. Score: the requests, longest first (in characters: the driver has no tokenizer), go into a
   Ray Dataset cut into blocks of `ray_batch_size` responses, so every task's batch holds
   responses of similar length. `map_batches` runs `ScorerWorker`, a callable class holding one
   backend per actor (`concurrency=workers`, `num_gpus=gpus_per_worker`), which scores each
   batch through the backend's own `score_into` (token-budget batches, context packing) and
   returns one row per response. The driver iterates the output stream and commits each block
   to the cache in one transaction as it arrives, so a run stopped halfway resumes like any other.
4. Failures. An exception inside a batch: the worker scores that batch's unfinished responses
   again one at a time, and a response that fails again comes back skipped with the reason. A
   worker process that dies: Ray restarts the actor and runs its task once more
   (max_restarts=-1, max_task_retries=1); a task lost twice is dropped by Ray Data
   (max_errored_blocks=-1), its responses are sent again one per task, and any that still do
   not come back are recorded as skipped (`WORKER_DIED`). The driver counts every key it sent:
   none is lost silently, and none is written twice.

Ray is imported only here, and this module only for `--engine ray`.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
import warnings
from collections import Counter
from contextlib import contextmanager

from typicality.errors import TypicalityError, one_line
from typicality.scoring.backends import BACKENDS, ScoreSink, ScoringBackend, load_backend, register_backend
from typicality.scoring.cache import CachedScore, MemorySink
from typicality.scoring.fingerprint import ModelIdentity
from typicality.scoring.options import RAY_INSTALL, ScoringOptions
from typicality.scoring.requests import ScoreRequest, ScoringRun, Skipped, TokenTrace

# Responses per Ray task: each task's rows come back, and are committed, together. Small enough
# that a lost task costs little and the progress moves; large enough that a GPU's token-budget
# batches (the backend's own, inside the task) stay full. A small run gets smaller tasks, so that
# every worker has several to do (one task per worker leaves the fast ones idle at the end).
DEFAULT_RAY_BATCH_SIZE = 64
TASKS_PER_WORKER = 4
WORKER_DIED = "Ray worker died twice scoring it"
ROW_COLUMNS = ("key", "n_tokens", "sum_logprob", "truncated", "prompt_truncated", "boundary_merged", "skipped", "fingerprint", "worker", "tokens", "seconds")


def failed_twice(error: BaseException) -> str:
    """The skip reason of a response whose scoring raised twice (the exception's kind: reasons are counted in the card)."""
    return f"scoring failed twice ({type(error).__name__})"


# -- the workers' side ----------------------------------------------------------------------------


def _load_worker_backend(model: str, backend: str, factory, options: dict) -> ScoringBackend:
    """The backend, loaded in a Ray worker; a backend registered at run time in the driver is registered here too."""
    if backend not in BACKENDS:
        register_backend(backend, factory)
    return load_backend(model, backend, progress=False, **options)


def probe(model: str, backend: str, factory, options: dict, check: bool) -> tuple[ModelIdentity, dict, object]:
    """Run once on the cluster (the driver loads no model): the backend's identity, card facts and quick check."""
    loaded = _load_worker_backend(model, backend, factory, options)
    report = None
    from typicality.scoring.check import check_backend, needs_quick_check

    if check and needs_quick_check(loaded):
        report = check_backend(loaded, quick=True)
    return loaded.identity, loaded.describe(), report


def score_rows(backend: ScoringBackend, requests: list[ScoreRequest], fingerprint: str, worker: str) -> dict[str, list]:
    """Score a batch through the backend's own `score_into`; one row per request (scored or skipped with its reason).

    A batch that raises is not lost: its unfinished responses are scored again one at a time,
    and a response that raises again is skipped with the reason.
    """
    sink = MemorySink()
    started = time.perf_counter()
    try:
        run = backend.score_into(requests, sink, fingerprint, progress=False)
        skipped, tokens = dict(run.skipped), run.tokens
    except Exception as error:  # any failure of one batch: retried response by response below
        print(f"typicality: a batch of {len(requests)} failed on {worker} ({type(error).__name__}: {one_line(error)}); "
              "scoring its responses one at a time", file=sys.stderr)
        skipped, tokens = {}, 0
        for request in requests:
            if request.key in sink.rows:
                continue
            try:
                run = backend.score_into([request], sink, fingerprint, progress=False)
                skipped.update(run.skipped)
                tokens += run.tokens
            except Exception as again:  # the second failure of this response: skipped with the reason
                print(f"typicality: {request.key[:12]} failed twice on {worker}: {type(again).__name__}: {one_line(again)}", file=sys.stderr)
                skipped[request.key] = failed_twice(again)
    seconds = time.perf_counter() - started
    share = 1 / max(len(requests), 1)  # the batch's tokens and seconds, spread over its rows so that sums add up
    rows = {column: [] for column in ROW_COLUMNS}
    for request in requests:
        found = sink.rows.get(request.key)
        reason = skipped.get(request.key) if found is None else None
        if found is None and reason is None:
            reason = "the backend returned no score"
        values = (
            request.key,
            -1 if found is None else found.n_tokens,
            math.nan if found is None else found.sum_logprob,
            bool(found and found.truncated),
            bool(found and found.prompt_truncated),
            bool(found and found.boundary_merged),
            reason or "",
            fingerprint,
            worker,
            tokens * share,
            seconds * share,
        )
        for column, value in zip(ROW_COLUMNS, values):
            rows[column].append(value)
    return rows


class ScorerWorker:
    """One Ray actor: loads the backend once, then scores one batch of requests per call."""

    def __init__(self, model: str, backend: str, factory, options: dict, fingerprint: str):
        self.backend = _load_worker_backend(model, backend, factory, options)
        self.fingerprint = self.backend.identity.fingerprint()
        if self.fingerprint != fingerprint:
            # Written on every row, and refused by the driver: a node that resolves the defaults otherwise.
            print(f"typicality: this worker's model is {self.fingerprint}, the probe's {fingerprint}", file=sys.stderr)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict[str, list]:
        requests = [ScoreRequest(str(k), str(p), str(r)) for k, p, r in zip(batch["key"], batch["prompt"], batch["response"])]
        return score_rows(self.backend, requests, self.fingerprint, self.worker)


# -- the driver's side ----------------------------------------------------------------------------


class RayEngine(ScoringBackend):
    """Scores through Ray actor workers, each holding one backend; the cache is written here, by the driver."""

    name = "ray"

    def __init__(self, options: ScoringOptions):
        self.options = options
        self.batch_size = options.ray_batch_size or DEFAULT_RAY_BATCH_SIZE  # settled per run in score_into
        self._ray = _import_ray()
        _connect(self._ray, options.ray_address)
        self.gpus_per_worker = _gpus_per_worker(self._ray, options.gpus_per_worker)
        self.workers = _workers(self._ray, options.workers, self.gpus_per_worker)
        self._backend = options.backend_name
        self._factory = BACKENDS[self._backend].factory
        self._backend_options = options.backend_options()
        # max_calls=1: the probe's process exits after it, so it keeps no GPU memory from the workers.
        remote_probe = self._ray.remote(num_cpus=1, num_gpus=self.gpus_per_worker, max_calls=1, max_retries=1)(probe)
        try:
            self._identity, self._facts, self.check_report = self._ray.get(
                remote_probe.remote(options.model, self._backend, self._factory, self._backend_options, options.check)
            )
        except self._ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, TypicalityError):  # a mistake in the options, found where the model loads
                raise TypicalityError(str(error.cause)) from None
            raise TypicalityError(f"Loading {options.model} in a Ray worker failed: {one_line(error)}") from None
        self.device = self._facts.get("device", "cpu")

    @property
    def identity(self) -> ModelIdentity:
        return self._identity

    def describe(self) -> dict:
        return {**self._facts, "engine": "ray", "ray_workers": self.workers, "ray_gpus_per_worker": self.gpus_per_worker,
                "ray_batch_size": self.batch_size, "ray_version": self._ray.__version__}

    def trace(self, requests: list[ScoreRequest]) -> list[TokenTrace | Skipped]:
        raise TypicalityError("`typicality check` runs a model in-process: drop --engine ray.")

    def score_into(self, requests: list[ScoreRequest], cache: ScoreSink, fingerprint: str, progress: bool = True) -> ScoringRun:
        """Send the requests through the workers; commit each block of rows to `cache` as it arrives."""
        from tqdm.auto import tqdm

        run = ScoringRun(facts={"ray_sent": len(requests), "ray_sent_again": 0, "ray_worker_processes": 0, "ray_worker_compute_s": 0.0})
        if not requests:  # everything cached: no Dataset, no worker started
            return run
        self.batch_size = self.options.ray_batch_size or default_batch_size(len(requests), self.workers)
        received: Counter = Counter()
        workers: set[str] = set()
        bar = tqdm(total=len(requests), unit="resp", desc=f"scoring on {self.workers} Ray worker(s)", disable=not progress, dynamic_ncols=True)
        started = time.perf_counter()
        try:
            with _quiet_data_context(self._ray):
                self._stream(requests, self.batch_size, cache, fingerprint, run, received, workers, bar, started)
                lost = [request for request in requests if request.key not in received]
                if lost and self.batch_size > 1:  # tasks Ray gave up on: their responses once more, one per task
                    run.facts["ray_sent_again"] = len(lost)
                    self._stream(lost, 1, cache, fingerprint, run, received, workers, bar, started)
        except TypicalityError:
            raise
        except Exception as error:  # Ray's own failures (a cluster gone, actors that never start): what arrived is kept
            raise TypicalityError(
                f"The Ray run stopped: {one_line(error)}. The {run.computed} scores received are in the cache; re-run to resume."
            ) from error
        finally:
            bar.close()
        for request in requests:
            if request.key not in received:
                run.skipped[request.key] = WORKER_DIED
        run.seconds = time.perf_counter() - started  # the cluster's wall time, workers' model loads included: tokens_per_s is the run's
        run.facts["ray_worker_processes"] = len(workers)
        run.facts["ray_duplicate_rows"] = sum(count - 1 for count in received.values())
        run.facts["ray_worker_compute_s"] = round(run.facts["ray_worker_compute_s"], 3)
        return run

    def _stream(self, requests, batch_size, cache, fingerprint, run, received, workers, bar, started) -> None:
        for block in self._dataset(requests, batch_size).iter_batches(batch_size=None, batch_format="pandas", prefetch_batches=0):
            rows = block[[key not in received for key in block["key"]]]  # a row Ray delivered twice is written once
            received.update(block["key"])
            if rows.empty:
                continue
            wrong = set(rows["fingerprint"]) - {fingerprint}
            if wrong:
                raise TypicalityError(
                    f"A Ray worker loaded {', '.join(sorted(wrong))}, the probe {fingerprint}: nodes resolve the defaults differently. "
                    "Pass --dtype (and --device) explicitly."
                )
            scored = rows[rows["skipped"] == ""]
            cache.put_many(fingerprint, {
                key: CachedScore(int(n), float(total), bool(t), bool(pt), bool(bm))
                for key, n, total, t, pt, bm in zip(scored["key"], scored["n_tokens"], scored["sum_logprob"], scored["truncated"],
                                                     scored["prompt_truncated"], scored["boundary_merged"])
            })
            run.skipped.update(dict(zip(rows.loc[rows["skipped"] != "", "key"], rows.loc[rows["skipped"] != "", "skipped"])))
            run.computed += len(scored)
            run.tokens += int(round(rows["tokens"].sum()))
            run.facts["ray_worker_compute_s"] += float(rows["seconds"].sum())
            workers.update(rows["worker"])
            bar.update(len(rows))
            bar.set_postfix_str(f"{run.tokens / (time.perf_counter() - started):,.0f} tok/s")

    def _dataset(self, requests: list[ScoreRequest], batch_size: int):
        """The requests, longest first, in blocks of `batch_size`, mapped through the actor workers."""
        longest_first = sorted(requests, key=lambda r: len(r.prompt) + len(r.response), reverse=True)
        # from_items builds the blocks here (from_pandas runs a remote task per block for its metadata).
        dataset = self._ray.data.from_items(
            [{"key": r.key, "prompt": r.prompt, "response": r.response} for r in longest_first],
            override_num_blocks=math.ceil(len(requests) / batch_size),
        )
        # One response per task (the second pass) also runs one task per worker at a time, so that a
        # response that kills its worker takes no other response's attempts with it.
        pool = self._ray.data.ActorPoolStrategy(size=self.workers, max_tasks_in_flight_per_actor=1 if batch_size == 1 else None)
        with warnings.catch_warnings():
            # Ray 2.60 takes the actors' retry settings only as (deprecated) plain remote arguments.
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            return dataset.map_batches(
                ScorerWorker,
                fn_constructor_kwargs={"model": self.options.model, "backend": self._backend, "factory": self._factory,
                                       "options": self._backend_options, "fingerprint": self._identity.fingerprint()},
                batch_size=batch_size,
                batch_format="pandas",
                compute=pool,
                num_cpus=1,
                num_gpus=self.gpus_per_worker,
                max_restarts=-1,  # a dead worker is replaced...
                max_task_retries=1,  # ...and its task run once more; a task lost twice is dropped, then sent again one response per task
            )


def default_batch_size(responses: int, workers: int) -> int:
    """Responses per task when not given: DEFAULT_RAY_BATCH_SIZE, or fewer so that each worker gets TASKS_PER_WORKER tasks."""
    return max(1, min(DEFAULT_RAY_BATCH_SIZE, math.ceil(responses / (TASKS_PER_WORKER * workers))))


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (its extra dependencies: pandas, pyarrow, fsspec)
    except ImportError as error:
        raise TypicalityError(f"--engine ray needs Ray with Ray Data ({one_line(error)}): {RAY_INSTALL}.") from None
    return ray


def _connect(ray, address: str | None) -> None:
    """Join the cluster at `address` (or $RAY_ADDRESS), else start a local one; an already connected session is reused."""
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report over the network
        try:
            if address is None and not os.environ.get("RAY_ADDRESS"):
                ray.init(address="local", include_dashboard=False, logging_level="WARNING", log_to_driver=True)
            else:
                ray.init(address=address, logging_level="WARNING")
        except (ConnectionError, ValueError, RuntimeError) as error:
            where = address or os.environ.get("RAY_ADDRESS")
            raise TypicalityError(
                f"Cannot join the Ray cluster at {where} ({one_line(error)}). Start it (`ray start --head` on its head node), "
                "pass its address with --ray-address (auto: the one started on this machine), or drop it for a local cluster."
            ) from None


def _gpus_per_worker(ray, asked: float | None) -> float:
    """As asked; by default one GPU per worker on a cluster that has GPUs, none otherwise."""
    if asked is not None:
        return float(asked)
    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0


def _workers(ray, asked: int | None, gpus_per_worker: float) -> int:
    """As asked; by default as many as the cluster's GPUs hold (one on a cluster without GPUs). Short resources: a warning."""
    resources = ray.cluster_resources()
    gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 0.0)
    if gpus_per_worker > 0 and gpus < gpus_per_worker:
        raise TypicalityError(
            f"--gpus-per-worker {gpus_per_worker:g}: the Ray cluster has {gpus:g} GPU(s). Add GPU nodes, or pass --gpus-per-worker 0 to score on CPUs."
        )
    workers = asked if asked is not None else (int(gpus // gpus_per_worker) if gpus_per_worker > 0 else 1)
    short = (gpus_per_worker > 0 and workers * gpus_per_worker > gpus) or workers > cpus
    if short:  # an autoscaling cluster may still add the nodes: wait for them rather than refuse
        print(f"typicality: {workers} Ray worker(s) need {workers * gpus_per_worker:g} GPU(s) and {workers} CPU(s); "
              f"the cluster has {gpus:g} and {cpus:g} now: the run waits for more nodes.", file=sys.stderr)
    return workers


@contextmanager
def _quiet_data_context(ray):
    """Ray Data settings for one scoring run, restored afterwards: lost blocks tolerated (the driver counts them), no bars of its own."""
    context = ray.data.DataContext.get_current()
    settings = {"max_errored_blocks": -1, "enable_progress_bars": False, "print_on_execution_start": False}
    saved = {name: getattr(context, name) for name in settings}
    for name, value in settings.items():
        setattr(context, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
