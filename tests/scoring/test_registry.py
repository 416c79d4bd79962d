"""The backend registry: lazy "module:factory" entries, duplicate names refused, one interface for every backend."""

from __future__ import annotations

import pytest

from typicality.errors import TypicalityError
from typicality.scoring import backends
from typicality.scoring.backends import BACKENDS, ScoringBackend, TokenizerBackend, load_backend, register_backend


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test."""
    monkeypatch.setattr(backends, "BACKENDS", dict(BACKENDS))
    return backends.BACKENDS


def test_built_in_backends_are_lazy_strings():
    assert BACKENDS["transformers"].factory == "typicality.scoring.transformers_backend:load_transformers_backend"
    assert BACKENDS["openai"].factory == "typicality.scoring.openai_backend:load_openai_backend"


def test_a_duplicate_name_is_refused(registry):
    with pytest.raises(TypicalityError, match="A scoring backend named 'openai' is already registered .*openai_backend"):
        register_backend("openai", "somewhere.else:factory")
    assert registry["openai"].factory.endswith("openai_backend:load_openai_backend")  # unchanged


def test_a_malformed_entry_and_an_unknown_name_are_named(registry):
    with pytest.raises(TypicalityError, match="is not a 'module:function' string"):
        register_backend("mine", "no_colon_here")
    with pytest.raises(TypicalityError, match="Unknown scoring backend 'nope'. Known backends: openai, transformers"):
        load_backend("m", "nope")
    register_backend("broken", "typicality.no_such_module:factory")
    with pytest.raises(TypicalityError, match=r"Scoring backend 'broken' \(typicality.no_such_module:factory\) cannot be imported"):
        load_backend("m", "broken")


def test_a_registered_string_is_imported_only_when_loaded(registry):
    register_backend("echoing", "tests.scoring.test_registry:make_recorder")
    assert load_backend("some-model", "echoing", colour="blue").settings == {"model": "some-model", "colour": "blue"}


class Recorder(ScoringBackend):
    """A minimal backend: records how it was made."""

    name = "echoing"

    def __init__(self, **settings):
        self.settings = settings

    identity = None  # not needed here

    def score_into(self, requests, cache, fingerprint, progress=True):
        raise AssertionError("not called")

    def trace(self, requests):
        raise AssertionError("not called")


def make_recorder(model, **options):
    return Recorder(model=model, **options)


def test_both_backends_implement_the_one_interface():
    from typicality.scoring.openai_backend import OpenAICompletionsBackend
    from typicality.scoring.transformers_backend import TransformersBackend

    assert issubclass(TransformersBackend, TokenizerBackend)
    assert issubclass(OpenAICompletionsBackend, ScoringBackend) and not issubclass(OpenAICompletionsBackend, TokenizerBackend)
    for cls in (TransformersBackend, OpenAICompletionsBackend):
        assert not cls.__abstractmethods__  # every abstract method implemented, none left raising NotImplementedError
    # The local models share the base class's driver; the endpoint has its own concurrent one.
    assert "score_into" in vars(TokenizerBackend) and "score_into" in vars(OpenAICompletionsBackend)
    assert "score_into" not in vars(TransformersBackend)
