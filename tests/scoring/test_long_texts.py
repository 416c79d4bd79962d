"""A text far longer than the window: cut by characters before tokenizing (bounded memory), with the tokens the whole text gives,
reported before scoring with its count and the --max-length fix, and stated in the score card and the report."""

from __future__ import annotations

import pytest

from tests.scoring.helpers import data_from_texts
from typicality.formatting import truncation_note
from typicality.scoring import preparation, score
from typicality.scoring.preparation import prepare_requests
from typicality.scoring.requests import ScoreRequest

SENTENCE = "I think that is a good question and the answer is not simple. Here is a list of things you could try: read, walk, sleep. "
LONG_RESPONSE = SENTENCE * 2500  # 300,000 characters: about 60,000 tokens of the tiny model, whose window is 256
LONG_PROMPT = "What is the capital of Italy? " * 8000 + "Tell me."  # 240,000 characters


class Recorder:
    """The tiny model's encoder, remembering the longest text it was given."""

    def __init__(self, tokenizer):
        self.tokenizer, self.longest = tokenizer, 0

    def __call__(self, texts: list[str]) -> list[list[int]]:
        self.longest = max([self.longest, *map(len, texts)])
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]


def prepared(tiny, requests, monkeypatch, *, chars_per_token: int, min_cut: int = 4096):
    monkeypatch.setattr(preparation, "CHARS_PER_TOKEN", chars_per_token)
    monkeypatch.setattr(preparation, "MIN_CUT_CHARS", min_cut)
    encode = Recorder(tiny.tokenizer)
    return prepare_requests(requests, encode, tiny.bos_id, tiny.window), encode.longest


@pytest.mark.parametrize("prompt, response", [("The capital of France is", LONG_RESPONSE), (LONG_PROMPT, " Rome."), (LONG_PROMPT, LONG_RESPONSE)])
def test_a_long_text_is_cut_by_characters_into_the_tokens_the_whole_text_gives(tiny, monkeypatch, prompt, response):
    requests = [ScoreRequest("k", prompt, response), ScoreRequest("short", "The capital of France is", " Paris.")]
    whole, whole_longest = prepared(tiny, requests, monkeypatch, chars_per_token=10**9)  # a cut beyond any text: tokenized whole
    cut, cut_longest = prepared(tiny, requests, monkeypatch, chars_per_token=8)
    # Too few characters at first (1 per token, no floor): the cut grows until it holds enough tokens.
    grown, grown_longest = prepared(tiny, requests, monkeypatch, chars_per_token=1, min_cut=0)
    assert whole_longest == len(prompt) + len(response)
    assert cut == whole and grown == whole  # the same context and response ids, and the same flags
    bound = max(8 * (tiny.window + preparation.MARGIN_TOKENS), 4096)  # characters kept of each of prompt and response
    assert cut_longest <= 2 * bound and grown_longest < cut_longest < whole_longest / 25
    item = cut[0]
    assert item.truncated == (response is LONG_RESPONSE) and item.prompt_truncated
    assert len(item.context) + len(item.response) == tiny.window


def test_a_response_longer_than_the_window_is_reported_before_scoring_and_stated_in_the_card(tiny, tmp_path, capsys):
    data = data_from_texts([("The capital of France is", LONG_RESPONSE), ("The capital of France is", " Paris.")])
    result = score(data, tiny.configured(max_length=None), cache_dir=tmp_path, progress=False, check=False)
    err = capsys.readouterr().err
    assert (
        f"typicality: 1 response is longer than the model's window of {tiny.window} tokens (the longest has {len(LONG_RESPONSE):,} characters): "
        "it is scored on its beginning only, its tail cut" in err
    )
    assert "--max-length" not in err  # a 256-token window is already short: no faster setting to suggest
    card = result.card
    assert card.response_truncated == 1 and result.table["truncated"].sum() == 1
    assert card.notes == [truncation_note(1, tiny.window)]
    assert "1 response was longer than the model's window of 256 tokens" in card.notes[0]


def test_a_long_window_adds_the_max_length_fix(tiny, monkeypatch, tmp_path, capsys):
    from typicality.scoring import backends

    monkeypatch.setattr(backends, "SHORT_WINDOW", 100)  # the tiny model's 256-token window counts as long here
    data = data_from_texts([("The capital of France is", LONG_RESPONSE)])
    score(data, tiny, cache_dir=tmp_path, progress=False, check=False)
    assert "--max-length N (e.g. --max-length 100) scores every response on at most its first N tokens" in capsys.readouterr().err


def test_the_report_states_the_cut(tmp_path):
    from tests.report.synthetic import build_audit_folder
    from typicality.audit_folder import read_audit
    from typicality.report.content import warnings

    audit = read_audit(build_audit_folder(tmp_path / "audit"))
    cut = int(audit.scores.table["truncated"].sum())
    assert cut > 0 and audit.score_card.response_truncated == cut
    assert truncation_note(audit.score_card.response_truncated, audit.score_card.window) in warnings(audit, audit.results.headline_estimate)
    assert truncation_note(0, 10) is None
