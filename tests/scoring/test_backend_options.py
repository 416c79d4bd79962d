"""A backend owns its options: one module and one `register_backend` line give it its CLI flags, their checks and its model prefix.

The toy backend below is such a module: it scores a response as `-nats_per_char` per character,
so the scores the command writes can be computed here by hand.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from tests.scoring.test_cli_score import write_hh_file
from typicality.cli import main
from typicality.errors import TypicalityError
from typicality.scoring import BackendOptions, ScoringBackend, ScoringOptions, load_backend, load_scores, register_backend
from typicality.scoring.backend_options import RESERVED_NAMES, InProcessOptions, option
from typicality.scoring.backends import BACKENDS, option_declarations
from typicality.scoring.cache import CachedScore
from typicality.scoring.fingerprint import ModelIdentity
from typicality.scoring.requests import ScoringRun


@dataclass(frozen=True)
class ToyOptions(BackendOptions):
    nats_per_char: float | None = option("toy:MODEL: log-probability each character costs (default 1)", metavar="X")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.nats_per_char is not None and not self.nats_per_char > 0:
            raise TypicalityError(f"--nats-per-char must be a positive number, got {self.nats_per_char!r}.")


class ToyBackend(ScoringBackend):
    name = "toy"

    def __init__(self, model: str, nats_per_char: float = 1.0):
        self.model_name, self.nats_per_char = model, nats_per_char

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(name=self.model_name, revision=f"toy-{self.nats_per_char}", backend=self.name, dtype="none", bos=False,
                             chat_template=False, window=10**6)

    def score_into(self, requests, cache, fingerprint, progress=True) -> ScoringRun:
        cache.put_many(fingerprint, {r.key: CachedScore(len(r.response), -self.nats_per_char * len(r.response), False, False, False) for r in requests})
        return ScoringRun(computed=len(requests))

    def trace(self, requests):
        raise AssertionError("not called")


MADE: list[tuple[str, dict]] = []


def load_toy(model: str, progress: bool = True, **options) -> ToyBackend:
    MADE.append((model, options))
    return ToyBackend(model, **options)


@pytest.fixture
def toy():
    """The toy backend, registered for one test (as a plugin module would at import) and removed after it."""
    MADE.clear()
    register_backend("toy", load_toy, prefix="toy:", options=ToyOptions)
    yield
    BACKENDS.pop("toy")


def help_text(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare with single spaces


def test_a_registered_backend_gets_its_flag_and_its_option_reaches_its_factory(toy, tmp_path, capsys):
    for command in ("score", "audit", "check"):
        text = help_text(command, capsys)
        assert "--nats-per-char X toy:MODEL: log-probability each character costs (default 1)" in text
        assert "toy for toy:MODEL" in text  # --backend's help names the prefix
    data_file = write_hh_file(tmp_path / "test.jsonl")
    out = tmp_path / "toy.parquet"
    argv = ["score", "hh-rlhf", "--data-files", str(data_file), "--model", "toy:m", "--nats-per-char", "0.5", "--no-check", "--no-progress",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    assert main(argv) == 0
    assert MADE == [("toy:m", {"nats_per_char": 0.5})]
    scores = load_scores(out).table.merge(_responses(data_file), on="response_id")
    assert len(scores) == 4 and scores["skipped"].isna().all()
    assert scores["sum_logprob"].tolist() == [-0.5 * len(text) for text in scores["response"]]
    # The Python API takes the same option by name, checked by the same class.
    options = ScoringOptions.create(model="toy:m", nats_per_char=2.0)
    assert options.backend_name == "toy" and options.model_options == ToyOptions(nats_per_char=2.0)
    assert options.backend_options() == {"nats_per_char": 2.0} and ScoringOptions.from_dict(options.to_dict()) == options
    assert load_backend("toy:m", nats_per_char=3.0).nats_per_char == 3.0


def _responses(data_file):
    from typicality.data import LoadRequest, load

    return load(LoadRequest("hh-rlhf", data_files=(str(data_file),))).responses[["response_id", "response"]]


def test_an_option_is_checked_by_its_class_and_refused_for_another_backend(toy, tmp_path, capsys):
    data_file = write_hh_file(tmp_path / "test.jsonl")
    base = ["score", "hh-rlhf", "--data-files", str(data_file), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "s.parquet")]
    assert main(base + ["--nats-per-char", "0.5"]) == 2
    assert "--nats-per-char applies to toy:MODEL models; drop it or change --model (now gemma-3-270m)." in capsys.readouterr().err
    assert main(base + ["--model", "toy:m", "--dtype", "float16"]) == 2
    assert "--dtype applies to in-process (transformers or vllm:MODEL) models; drop it or change --model (now toy:m)." in capsys.readouterr().err
    assert main(base + ["--model", "toy:m", "--nats-per-char", "-1"]) == 2
    assert "--nats-per-char must be a positive number, got -1.0." in capsys.readouterr().err
    assert MADE == []  # every refusal came before the factory ran
    with pytest.raises(TypicalityError, match="--nats-per-char must be a positive number"):
        load_backend("toy:m", nats_per_char=0.0)
    with pytest.raises(TypicalityError, match="--concurrency applies to openai:URL#MODEL models; drop it or change --model"):
        ScoringOptions(model="toy:m", model_options=ScoringOptions.create(model="openai:http://h/v1#m", concurrency=2).model_options)


def test_one_flag_one_declaration(toy):
    # Shared flags are one declaration: the in-process backends' common base class.
    assert option_declarations()["dtype"][1] == ["transformers", "vllm"] and option_declarations()["nats_per_char"][1] == ["toy"]

    @dataclass(frozen=True)
    class Clashing(BackendOptions):
        dtype: str | None = option("another meaning", choices=("int4",))

    with pytest.raises(TypicalityError, match="option dtype is declared otherwise by backend.s. transformers, vllm"):
        register_backend("clash", load_toy, options=Clashing)

    @dataclass(frozen=True)
    class Sharing(InProcessOptions):
        pass

    with pytest.raises(TypicalityError, match="the model prefix 'toy:' already selects backend 'toy'"):
        register_backend("other-toy", load_toy, prefix="toy:", options=Sharing)
    with pytest.raises(TypicalityError, match="options must be a dataclass subclassing BackendOptions"):
        register_backend("plain", load_toy, options=dict)

    @dataclass(frozen=True)
    class Reserved(BackendOptions):
        shard: str | None = None

    with pytest.raises(TypicalityError, match="option shard is a setting of every run"):
        register_backend("reserved", load_toy, options=Reserved)
    # Every setting of ScoringOptions is reserved (the list is written out in backend_options.py).
    assert {field.name for field in dataclasses.fields(ScoringOptions)} <= RESERVED_NAMES
    assert set(BACKENDS) == {"transformers", "openai", "vllm", "toy"}  # nothing half-registered
    register_backend("sharing", load_toy, options=Sharing)  # the same declaration of --dtype: accepted, still one flag
    try:
        assert option_declarations()["dtype"][1] == ["transformers", "vllm", "sharing"]
    finally:
        BACKENDS.pop("sharing")


def test_every_built_in_flag_keeps_its_name_choices_and_home(capsys):
    text = help_text("score", capsys)
    for flag in ("--backend", "--device", "--dtype {float32,bfloat16,float16}", "--bos {auto,always,never}", "--chat-template", "--max-length N",
                 "--revision", "--trust-remote-code", "--device-map MAP", "--concurrency N", "--timeout S", "--max-retries N",
                 "--tensor-parallel-size N", "--gpu-memory-utilization SHARE", "--enforce-eager", "--batch-tokens B", "--no-progress"):
        assert f" {flag} " in text, flag
    homes = {name: backends for name, (_, backends) in option_declarations().items()}
    assert homes == {
        **dict.fromkeys(("dtype", "bos", "chat_template", "max_length", "trust_remote_code", "batch_tokens"), ["transformers", "vllm"]),
        "device": ["transformers"], "device_map": ["transformers"],
        "concurrency": ["openai"], "timeout": ["openai"], "max_retries": ["openai"],
        "tensor_parallel_size": ["vllm"], "gpu_memory_utilization": ["vllm"], "enforce_eager": ["vllm"],
    }
    for spec in BACKENDS.values():  # every option's default means "not given": the backend's own default applies
        assert all(field.default in (None, False) for field in dataclasses.fields(spec.options))
