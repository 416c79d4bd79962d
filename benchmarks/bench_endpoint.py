"""Benchmark: the endpoint backend's requests/s against --concurrency, on a local server with a fixed delay.

    .venv/bin/python benchmarks/bench_endpoint.py [--delay 0.2] [--server-slots 32] [--concurrency 1,8,32,64]

The server is the tests' vLLM-like fake (tests/scoring/openai_servers.py: one token per
character, known log-probabilities) made to answer each completion after `--delay` seconds and
to work on at most `--server-slots` requests at once (like a vLLM server's batch limit; the
rest wait in line). So its own limit is slots / delay requests per second, and the client's
rate should grow with concurrency, about concurrency / delay, until it meets that limit.
Each level scores real HH-RLHF responses through `typicality.scoring.score` on an empty cache
(the user's path: requests, answers checked and cut, scores committed to the cache) and the
scores are checked against the fake model's hand-computable values. The server runs in its own
process (the client and server would otherwise share one interpreter lock).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workload import ROOT, hh_rlhf  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.scoring.openai_servers import FakeCompletionsServer, _FakeHandler, char_logprob  # noqa: E402
from typicality.scoring import score  # noqa: E402


class SlowFakeServer(FakeCompletionsServer):
    """The fake server, answering completions after a fixed delay, `slots` at a time."""

    def __init__(self, delay: float, slots: int):
        super().__init__()
        self.httpd.RequestHandlerClass = _SlowHandler
        # A deeper listen backlog than http.server's 5: the fake closes each connection after one
        # answer (HTTP/1.0), so 64 clients reconnect at once and a backlog of 5 drops their SYNs.
        self.httpd.socket.listen(1024)
        self.delay = delay
        self.slots = threading.Semaphore(slots)


class _SlowHandler(_FakeHandler):
    def do_POST(self):
        server: SlowFakeServer = self.server.owner
        if self.path == "/v1/completions":
            with server.slots:
                time.sleep(server.delay)
        super().do_POST()


def serve(delay: float, slots: int, urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    """Run the slow server in its own process, so its work and the client's do not share one interpreter lock."""
    with SlowFakeServer(delay, slots) as server:
        urls.put((server.url, server.model))
        stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the server takes per completion (default 0.2)")
    parser.add_argument("--server-slots", type=int, default=32, help="completions the server works on at once (default 32)")
    parser.add_argument("--concurrency", default="1,8,32,64", help="comma-separated levels (default 1,8,32,64)")
    parser.add_argument("--rounds", type=int, default=12, help="requests per level = rounds x min(concurrency, slots), at least 24 (default 12)")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    needed = max(max(24, args.rounds * min(c, args.server_slots)) for c in levels)
    data = hh_rlhf(math.ceil(needed / 2) + 10)
    print(f"server: answers after {args.delay:.3f} s, {args.server_slots} at a time: its limit is {args.server_slots / args.delay:.0f} requests/s")

    print(f"{'concurrency':>11} {'requests':>8} {'seconds':>8} {'requests/s':>10} {'ideal':>8} {'efficiency':>10}")
    urls, stop = multiprocessing.Queue(), multiprocessing.Event()
    process = multiprocessing.Process(target=serve, args=(args.delay, args.server_slots, urls, stop), daemon=True)
    process.start()
    url, model = urls.get(timeout=60)
    try:
        for level in levels:
            count = max(24, args.rounds * min(level, args.server_slots))
            subset = data.limit(math.ceil(count / 2), seed=level)
            with tempfile.TemporaryDirectory() as cache_dir:
                tick = time.perf_counter()
                result = score(subset, f"openai:{url}#{model}", concurrency=level, cache_dir=cache_dir, progress=False)
                seconds = time.perf_counter() - tick
            table = result.table
            expected = [sum(char_logprob(c) for c in response) for response in subset.responses["response"]]
            worst = max(abs(a - b) for a, b in zip(table["sum_logprob"], expected))
            if worst > 1e-6:
                sys.exit(f"bench_endpoint: scores differ from the fake model's by {worst:.2e} at concurrency {level}")
            rate = len(table) / seconds
            ideal = min(level, args.server_slots) / args.delay
            print(f"{level:>11} {len(table):>8} {seconds:>8.2f} {rate:>10.1f} {ideal:>8.0f} {rate / ideal:>10.0%}", flush=True)
    finally:
        stop.set()
        process.join(timeout=10)


if __name__ == "__main__":
    main()
