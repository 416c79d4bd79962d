"""`typicality check`: each check passes on a sound scorer and fails, naming the fix, on the bug it exists for.

Sound scorers: the tiny random model (transformers) and the fake completions server. Each bug
is one a public tool has shipped, reproduced here: a float16 overflow, a dropped first
response token, batch-dependent scores, a server that refuses echo (mainline llama.cpp) or
echoes only the generated token, prompt log-probabilities that change on a prefix-cache hit,
a doubled BOS, another model behind the name.
"""

from __future__ import annotations

import json

import pytest

from tests.scoring.helpers import data_from_texts
from tests.scoring.openai_servers import FakeCompletionsServer, char_logprob
from tests.scoring.tiny_model import build_overflowing_model
from typicality.cli import main
from typicality.errors import TypicalityError
from typicality.scoring import load_backend, score
from typicality.scoring.check import JOINS, QUICK_JOINS, built_in_requests, check_backend
from typicality.scoring.requests import Prepared, TokenScores


def results(report) -> dict[str, bool]:
    return {check.name: check.passed for check in report.checks}


def detail(report, name: str) -> str:
    return next(check.detail for check in report.checks if check.name == name)


def test_the_built_in_joins_cover_what_broke_real_scorers(tiny):
    texts = [prompt + response for _, prompt, response in JOINS]
    assert any(any("\u4e00" <= c <= "\u9fff" for c in text) for text in texts)  # CJK
    assert any(any(ord(c) > 0xFFFF for c in text) for text in texts)  # emoji outside the BMP
    assert any(prompt.endswith("\n") or response.startswith("\n") for _, prompt, response in JOINS)
    merged = [trace.boundary_merged for trace in tiny.trace(built_in_requests(QUICK_JOINS))]
    assert any(merged)  # at least one token spans the join, in the quick subset too


def test_a_sound_local_model_passes_every_check(tiny):
    report = check_backend(tiny)
    assert report.passed and results(report) == {"bos": True, "boundary": True, "finite": True, "invariance": True}
    assert "the tokenizer adds <bos> by itself; policy --bos auto: one BOS expected" == detail(report, "bos")
    assert "one text per batch" in detail(report, "invariance") and "each response in a row of its own" in detail(report, "invariance")
    assert report.tolerance == 1e-4 and json.loads(json.dumps(report.to_dict()))["passed"] is True


def test_no_bos_by_explicit_policy_passes(tiny):
    report = check_backend(tiny.configured(bos="never"), quick=True)
    assert report.passed and "no BOS expected" in detail(report, "bos")


def test_a_doubled_bos_fails(tiny):
    doubled = tiny.configured()
    prepare = doubled.prepare
    bos = tiny.tokenizer.bos_token_id
    doubled.prepare = lambda requests: [
        Prepared(p.key, (bos, *p.context), p.response, p.prompt_truncated, p.truncated, p.boundary_merged) for p in prepare(requests)
    ]
    report = check_backend(doubled, quick=True)
    assert not results(report)["bos"] and "found [2] BOS token(s) per text" in detail(report, "bos")


def test_a_dropped_first_response_token_fails_the_boundary_check(tiny):
    """minicons' bug: the response's first token counted as context."""
    dropping = tiny.configured()
    prepare = dropping.prepare
    dropping.prepare = lambda requests: [
        Prepared(p.key, (*p.context, p.response[0]), p.response[1:], p.prompt_truncated, p.truncated, p.boundary_merged) for p in prepare(requests)
    ]
    report = check_backend(dropping, quick=True)
    assert not results(report)["boundary"]
    assert "a context token reaches into the response" in detail(report, "boundary")


def test_scores_that_depend_on_the_batch_fail_the_invariance_check(tiny):
    """lm-evaluation-harness's bug: a score that changes with its batch."""
    drifting = tiny.configured()
    score_batch = drifting.score_batch
    drifting.score_batch = lambda batch: [TokenScores(s.n_tokens, s.sum_logprob + 0.01 * len(batch) * s.n_tokens) for s in score_batch(batch)]
    report = check_backend(drifting, quick=True)
    assert not results(report)["invariance"]
    assert "over the tolerance 0.0001" in detail(report, "invariance")


def test_a_tokenizer_without_offsets_skips_the_boundary_check_and_says_so(tiny, monkeypatch):
    slow = tiny.configured()
    monkeypatch.setattr(type(tiny), "_spans", lambda self, text, ids, leading: None)
    report = check_backend(slow, quick=True)
    assert report.passed and detail(report, "boundary").startswith("not checked: the tokenizer gives no character offsets")


def test_float16_overflow_fails_and_names_the_fix(tiny_model_dir, tmp_path):
    """Gemma's bug in float16: the residual stream overflows, every score is NaN."""
    hot = build_overflowing_model(tiny_model_dir, tmp_path / "hot")
    report = check_backend(load_backend(str(hot), device="cpu", dtype="float16", progress=False), quick=True)
    assert not results(report)["finite"]
    assert "NaN or infinite in float16; float16 overflows in this model (Gemma does): use --dtype bfloat16" in detail(report, "finite")
    assert check_backend(load_backend(str(hot), device="cpu", dtype="float32", progress=False), quick=True).passed


def test_a_sound_endpoint_passes_and_costs_a_few_requests():
    with FakeCompletionsServer() as fake:
        report = check_backend(load_backend(f"openai:{fake.url}#fake-model"), quick=True)
        sent = fake.counts["POST /v1/completions"]
    assert report.passed
    assert results(report) == {name: True for name in ("echo", "bos", "boundary", "offsets", "served name", "finite", "invariance")}
    assert sent == 3 * len(QUICK_JOINS)  # one at a time, all at once, and again (a warm prefix cache)
    assert report.tolerance == 0.05


@pytest.mark.parametrize(
    "server, failed, message",
    [
        ({"echo": "refuse"}, "echo", "refused a completions request with echo=true (HTTP 400: Only no echo is supported)"),
        ({"echo": "generated-only"}, "echo", "did not return the prompt's log-probabilities with echo=true"),
        ({"prefix_cache_drift": 0.3}, "invariance", "--no-enable-prefix-caching"),
        ({"served_as": "other/model"}, "served name", "asked for 'fake-model', the server answered as other/model"),
        ({"bos_count": 2}, "bos", "the server puts 2 special token(s) before the text"),
    ],
)
def test_each_server_bug_fails_its_check_with_the_fix(server, failed, message):
    with FakeCompletionsServer(**server) as fake:
        report = check_backend(load_backend(f"openai:{fake.url}#fake-model"), quick=True)
    assert not report.passed and not results(report)[failed]
    assert message in detail(report, failed)
    assert [check.name for check in report.checks if not check.passed] == [failed]  # the others still pass


def test_against_agrees_with_itself_and_not_with_another_tokenizer(tiny):
    with FakeCompletionsServer() as one, FakeCompletionsServer() as two:
        first, second = load_backend(f"openai:{one.url}#fake-model"), load_backend(f"openai:{two.url}#fake-model")
        same = check_backend(first, quick=True, against=second)
        different = check_backend(first, quick=True, against=tiny)
    assert same.passed and "100%" in detail(same, "agreement") and "differ by 0 nats" in detail(same, "agreement")
    assert not results(different)["agreement"] and "the two tokenize differently" in detail(different, "agreement")


def test_against_a_server_that_refuses_echo_names_it(tiny):
    with FakeCompletionsServer(echo="refuse") as fake:
        report = check_backend(tiny, quick=True, against=load_backend(f"openai:{fake.url}#fake-model"))
    assert results(report)["echo (against)"] is False and "agreement" not in results(report)
    assert results(report)["invariance"]  # the model itself still passes


def test_a_refused_api_key_is_an_error_not_an_echo_failure(monkeypatch):
    with FakeCompletionsServer(api_key="right") as fake:
        monkeypatch.setenv("TYPICALITY_API_KEY", "wrong")
        backend = load_backend(f"openai:{fake.url}#fake-model")  # the model listing needs no key on this server
        with pytest.raises(TypicalityError, match=r"refused the check's request \(HTTP 401: Invalid API key\); check the API key"):
            check_backend(backend, quick=True)


def test_against_measures_per_token_differences():
    with FakeCompletionsServer() as one, FakeCompletionsServer(prefix_cache_drift=0.0) as two:
        two.seen.update(prompt + response for prompt, response in [(r.prompt, r.response) for r in built_in_requests(QUICK_JOINS)])
        two.prefix_cache_drift = 0.5  # every text is "seen": each token comes back 0.5 nats off
        report = check_backend(load_backend(f"openai:{one.url}#fake-model"), quick=True, against=load_backend(f"openai:{two.url}#fake-model"))
    assert not results(report)["agreement"] and "differ by 0.5 nats per token on average" in detail(report, "agreement")


def test_score_runs_the_quick_check_first_and_records_it(tmp_path):
    data = data_from_texts([("Hi", " there"), ("The capital of Italy is ", "Rome.")])
    with FakeCompletionsServer() as fake:
        result = score(data, f"openai:{fake.url}#fake-model", cache_dir=tmp_path, progress=False)
    card = result.card.check
    assert card["passed"] is True and card["quick"] is True
    assert {check["name"] for check in card["checks"]} >= {"echo", "boundary", "invariance"}
    assert all(set(check) == {"name", "passed", "detail"} for check in card["checks"])
    assert result.table["mean_logprob"].tolist() == pytest.approx([sum(map(char_logprob, r)) / len(r) for r in (" there", "Rome.")])


def test_score_refuses_a_server_that_fails_the_check_before_scoring(tmp_path):
    data = data_from_texts([("Hi", " there")])
    with FakeCompletionsServer(echo="refuse") as fake:
        with pytest.raises(TypicalityError, match=r"The pre-flight check of openai:.*failed \(echo: .*Only no echo is supported.*--no-check"):
            score(data, f"openai:{fake.url}#fake-model", cache_dir=tmp_path, progress=False)
        assert fake.counts["POST /v1/completions"] == 1  # the check's first request, nothing more


def test_the_embedded_model_is_not_checked_before_scoring(monkeypatch, tmp_path):
    """The embedded model's conformance is the test suite's job; check=False skips any model's."""
    from typicality.scoring import runner

    monkeypatch.setattr("typicality.scoring.check.check_backend", lambda *a, **k: pytest.fail("checked"))
    embedded = type("Embedded", (), {"name": "transformers", "identity": type("I", (), {"name": "gemma-3-270m"})()})()
    assert runner._preflight(embedded, runner.ScoringOptions()) is None
    assert runner._preflight(embedded, runner.ScoringOptions(check=False)) is None
    # The same weights in another engine (vllm:gemma-3-270m) are checked: the suite tests the transformers path.
    monkeypatch.setattr("typicality.scoring.check.check_backend", lambda *a, **k: type("R", (), {"passed": True, "to_dict": lambda self: {"ran": True}})())
    in_vllm = type("InVLLM", (), {"name": "vllm", "identity": embedded.identity})()
    assert runner._preflight(in_vllm, runner.ScoringOptions()) == {"ran": True}


def test_check_command_prints_a_table_or_json(tiny_model_dir, capsys):
    assert main(["check", str(tiny_model_dir), "--device", "cpu", "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "invariance" in table and "pass" in table and "all checks passed" in table
    assert main(["check", str(tiny_model_dir), "--device", "cpu", "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["quick"] is False and len(report["checks"]) == 4


def test_check_command_fails_on_a_server_that_refuses_echo(capsys):
    with FakeCompletionsServer(echo="refuse") as fake:
        code = main(["check", f"openai:{fake.url}#fake-model", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL" in out and "Only no echo is supported" in out
    assert "some checks failed" in out


def test_check_command_refuses_bad_options_in_one_line(capsys):
    assert main(["check", "openai:http://127.0.0.1:9/v1#m", "--dtype", "float16"]) == 2
    assert "--dtype applies to in-process (transformers or vllm:MODEL) models" in capsys.readouterr().err


@pytest.mark.slow
def test_the_embedded_gemma_passes_the_check(gemma):
    """`typicality check gemma-3-270m` (the command's wiring is tested on the tiny model above; this reuses the loaded Gemma)."""
    report = check_backend(gemma)
    assert report.passed, report.to_dict()
    assert results(report) == {"bos": True, "boundary": True, "finite": True, "invariance": True}
    assert report.tolerance == 1e-4 and "the tokenizer adds <bos> by itself" in detail(report, "bos")
    assert "3 token(s) spanning the join" in detail(report, "boundary")  # Gemma's tokenizer glues a trailing space to the next word
