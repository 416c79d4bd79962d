"""`typicality explain`: the chosen pairs re-scored token by token under the audit's model, in tokens.json, the report and the notebook.

A real audit folder scored by the tiny model (tests/scoring/tiny_model.py) with hostile texts:
the token sums must equal scores.parquet's, the pairs must be those influence.parquet ranks
first, and every token's text must stay text in the report.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.report.page import markdown_to_html, parse_page
from tests.report.synthetic import PAYLOADS
from tests.scoring.tiny_model import build_tiny_model
from typicality.audit_folder import SCORES_FILE, load_token_view, read_audit, save_data, save_scores
from typicality.cli import main
from typicality.data.build import from_pairs
from typicality.domain import Accounting
from typicality.errors import TypicalityError
from typicality.explanation import explain
from typicality.pipeline import write_influence
from typicality.scoring import load_backend, score
from typicality.stats import analyze

WORDS = "the capital of France is Paris Rome a good question I can help you with that read walk sleep".split()


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory):
    return load_backend(str(build_tiny_model(tmp_path_factory.mktemp("tiny-model"))), device="cpu", progress=False)


@pytest.fixture(scope="module")
def explained_folder(tiny_backend, tmp_path_factory):
    """An audit of 40 hostile pairs scored by the tiny model, with influence.parquet: `typicality audit` and `typicality influence`, by hand."""
    rng = np.random.default_rng(3)
    prompts, firsts, seconds = [], [], []
    for i in range(40):
        prompts.append(f"Human: question {i} {PAYLOADS[i % len(PAYLOADS)]} Assistant:")
        firsts.append(" " + " ".join(rng.choice(WORDS, size=int(rng.integers(3, 12)))) + f" {PAYLOADS[(i + 3) % len(PAYLOADS)]}")
        seconds.append(" " + " ".join(rng.choice(WORDS, size=int(rng.integers(3, 12)))))
    labels = rng.integers(0, 2, size=40).astype(float)
    data = from_pairs("hostile <b>pairs</b>", prompts, firsts, seconds, labels, Accounting(rows_read=40), split="test")
    folder = tmp_path_factory.mktemp("audit") / "audit"
    scores = score(data, tiny_backend, cache_dir=folder.parent / "cache", progress=False)
    save_data(data, folder)
    save_scores(scores, folder / SCORES_FILE)
    analyze(data, scores, seed=0).save(folder)
    write_influence(folder)
    return folder


def test_explain_sums_equal_the_cached_sums_and_picks_the_most_influential_pairs(explained_folder, tiny_backend):
    view = explain(explained_folder, pairs=3, backend=tiny_backend, report=False)
    audit = read_audit(explained_folder)
    cached = audit.scores.table.set_index("response_id")["sum_logprob"]
    for pair in view.pairs:
        for response in pair["responses"]:
            assert abs(sum(response["logprobs"]) - cached[response["response_id"]]) < 1e-4
            assert response["cached_sum_logprob"] == cached[response["response_id"]]
            text = audit.data.responses.set_index("response_id").loc[response["response_id"], "response"]
            assert "".join(response["pieces"]) == text
    assert view.content["max_sum_difference"] < 1e-4
    # The three pairs with the largest |change in alpha| (influence.parquet), recounted here, most influential first.
    rows = audit.influence[audit.influence["level"] == "pair"]
    expected = rows.reindex(rows["change"].abs().sort_values(ascending=False).index)["comparison"].head(3).tolist()
    assert [pair["comparison"] for pair in view.pairs] == expected
    assert [pair["rank"] for pair in view.pairs] == [1, 2, 3]
    design = audit.pairs.frame.set_index("comparison")
    for pair in view.pairs:
        assert pair["delta"] == pytest.approx(design.loc[pair["comparison"], "delta_mean_logprob"])
        assert pair["label"] == design.loc[pair["comparison"], "label"]
    assert load_token_view(explained_folder)["pairs"] == view.pairs


def test_the_report_and_the_notebook_show_the_tokens_as_text(explained_folder, tiny_backend):
    view = explain(explained_folder, pair=int(read_audit(explained_folder).pairs.frame["comparison"].iloc[0]), backend=tiny_backend)
    assert len(view.pairs) == 1
    for html in ((explained_folder / "report.html").read_text(encoding="utf-8"), view._repr_html_()):
        page = parse_page(html)
        assert page.tags("script") == [] and all(attrs["src"].startswith("data:image/png") for attrs in page.tags("img"))
        assert not [attrs for _, attrs in page.elements if any(name.startswith("on") for name in attrs)]
        token_spans = [attrs for tag, attrs in page.elements if tag == "span" and (attrs.get("title") or "").startswith("log p = ")]
        assert len(token_spans) == sum(len(response["pieces"]) for response in view.pairs[0]["responses"])
        for response in view.pairs[0]["responses"]:
            assert "".join(response["pieces"]) in page.text  # the response, token by token, as its own characters
    markdown = (explained_folder / "report.md").read_text(encoding="utf-8")
    assert "## Token by token: why these responses are typical" in markdown and "Pair " in markdown
    rendered = parse_page(markdown_to_html(markdown))
    assert rendered.tags("script") == [] and "Token by token" in rendered.text  # dataset text escaped in Markdown too
    assert repr(view).startswith("Token view of 1 pair(s) under ")


def test_explain_refuses_a_pair_it_does_not_have_and_both_choices(explained_folder, tiny_backend):
    with pytest.raises(TypicalityError, match="No pair has comparison number 999"):
        explain(explained_folder, pair=999, backend=tiny_backend)
    with pytest.raises(TypicalityError, match="not both"):
        explain(explained_folder, pairs=2, pair=0, backend=tiny_backend)


def test_the_command_loads_the_audits_own_model_from_its_card(explained_folder, capsys):
    assert main(["explain", str(explained_folder), "--pairs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Token view of 2 pair(s) under ")
    assert "tokens add up to the audit's cached sum within" in out
    assert len(load_token_view(explained_folder)["pairs"]) == 2
