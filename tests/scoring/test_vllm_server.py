"""The endpoint backend against a real vLLM server: `vllm serve` (CPU build) with the embedded model's converted checkpoint.

The server tokenizes (its own BOS, its own boundary): `typicality check` proves it puts one BOS
before the text, echoes the prompt's log-probabilities and cuts the response where the
project does, and the scores agree with the in-process transformers scorer on the same float32
weights within AGREEMENT nats per token (measured on 20 helpful-base pairs by
`benchmarks/bench_vllm_agreement.py --pairs 20`: at most 3.2e-5). One server per module: it
starts in one to three minutes (eager, no torch.compile) on 2 cores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.scoring.test_vllm_backend import AGREEMENT, hh_short  # noqa: F401 - the same conversations
from tests.scoring.vllm_server import SERVED_NAME, VLLMServer, require_vllm
from typicality.scoring import load_backend
from typicality.scoring.check import check_backend
from typicality.scoring.runner import score

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_vllm()
    from typicality.scoring.checkpoints import embedded_checkpoint

    running = VLLMServer(embedded_checkpoint(progress=False), tmp_path_factory.mktemp("vllm-log") / "server.log").start()
    yield running
    running.stop()


def spec(server: VLLMServer) -> str:
    return f"openai:{server.url}#{SERVED_NAME}"


def test_typicality_check_passes_on_the_server(server, capsys):
    """`typicality check openai:URL#MODEL --against gemma-3-270m`, as a user runs it: every row passes."""
    from typicality.cli import main

    code = main(["check", spec(server), "--against", "gemma-3-270m", "--against-tolerance", str(AGREEMENT), "--json", "--no-progress"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["passed"], report
    names = {check["name"] for check in report["checks"]}
    assert {"echo", "bos", "boundary", "offsets", "served name", "finite", "invariance", "agreement"} <= names


def test_scores_through_the_server_agree_with_the_in_process_scorers(server, gemma, hh_short, tmp_path):  # noqa: F811
    served = score(hh_short, spec(server), cache_dir=tmp_path, progress=False, concurrency=4)
    local = score(hh_short, gemma, cache_dir=tmp_path, progress=False)
    a, b = served.table.set_index("response_id"), local.table.set_index("response_id").loc[served.table["response_id"]]
    assert a["skipped"].isna().all()
    np.testing.assert_array_equal(a["n_tokens"], b["n_tokens"])  # the server's tokens and boundary are the project's
    np.testing.assert_allclose(a["mean_logprob"], b["mean_logprob"], rtol=0, atol=AGREEMENT)
    assert served.card.check["passed"] is True and served.card.requests == len(a)


def test_the_server_and_the_in_process_engine_agree(server, vllm_engine):
    """The two ways of running vLLM, token by token on the check's texts (including a token spanning the join)."""
    report = check_backend(load_backend(spec(server)), against=vllm_engine, against_tolerance=AGREEMENT)
    assert report.passed, report.to_dict()
