"""The debiased export: TRL's preference format plus margin, weights, probabilities and flips, a dataset card,
loadable by `datasets`, consumed by TRL's RewardTrainer; refusals write nothing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from numpy.testing import assert_allclose
from scipy.special import expit

import typicality
from typicality.audit_folder import RESULTS_FILE, load_results, save_analysis
from typicality.cli import main
from typicality.debiased_export import COLUMNS, export
from typicality.errors import TypicalityError
from typicality.pipeline import write_simulation
from typicality.stats import analyze_with_design, simulate


def _audit(folder, *, alpha=0.5, prompts=200, seed=2, rating_levels=5, ties="drop"):
    data, scores = simulate(alpha, prompts, 4, seed=seed, rating_levels=rating_levels)
    write_simulation(data, scores, folder)
    save_analysis(*analyze_with_design(data, scores, ties=ties), folder)
    return data


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit")
    return folder, _audit(folder)


def _card(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def test_export_rows_are_the_decided_pairs_chosen_first(audited, tmp_path):
    folder, data = audited
    result = export(folder, tmp_path / "out")
    frame = pd.read_parquet(result.data_file)
    assert list(frame.columns) == COLUMNS
    results = load_results(folder)
    decided = data.comparisons[data.comparisons["label"] != 0.5]
    assert len(frame) == len(decided) == results.pairs["pairs"]
    # Each row's chosen text is the response the source preferred (label 1: a; 0: b).
    texts = data.responses.set_index("response_id")["response"]
    source = data.comparisons.loc[frame["comparison"]]
    preferred = np.where(source["label"] == 1.0, source["response_a"], source["response_b"])
    other = np.where(source["label"] == 1.0, source["response_b"], source["response_a"])
    assert (frame["chosen"].to_numpy() == texts.loc[preferred].to_numpy()).all()
    assert (frame["rejected"].to_numpy() == texts.loc[other].to_numpy()).all()
    assert (frame["prompt"] == data.responses.set_index("response_id").loc[preferred, "prompt"].to_numpy()).all()
    # The numbers, recomputed from the exported columns and the card.
    header, _ = _card(result.card_file)
    record = header["typicality_debiasing"]
    alpha = record["alpha"]
    assert record["estimate"] == results.headline.estimate == "equal-correctness|mean_logprob|none"
    assert alpha == results.debiasing.alpha
    scores = pd.read_parquet(folder / "scores.parquet").set_index("response_id")
    delta = scores.loc[frame["chosen_id"], "mean_logprob"].to_numpy() - scores.loc[frame["rejected_id"], "mean_logprob"].to_numpy()
    assert_allclose(frame["margin"], -alpha * delta, atol=1e-12)
    correctness = data.responses.set_index("response_id")["correctness"]
    delta_quality = correctness.loc[frame["chosen_id"]].to_numpy() - correctness.loc[frame["rejected_id"]].to_numpy()
    beta = record["coefficients_with_typicality"]["correctness"]
    assert_allclose(frame["p_chosen_with_typicality"], expit(beta * delta_quality + alpha * delta), rtol=1e-10)
    assert_allclose(frame["p_chosen_without_typicality"], expit(beta * delta_quality), rtol=1e-10)
    flips = (frame["p_chosen_with_typicality"] - 0.5) * (frame["p_chosen_without_typicality"] - 0.5) < 0
    assert (frame["flip"] == flips).all()
    assert frame["flip"].sum() == results.debiasing.n_flips == record["n_flips"]
    gamma = record["coefficients_without_typicality"]["correctness"]
    assert_allclose(frame["weight"], expit(gamma * delta_quality) / frame["p_chosen_with_typicality"], rtol=1e-10)
    assert_allclose(frame["weight"].mean(), results.debiasing.weights["mean"], rtol=1e-10)
    assert not frame["tie"].any()


def test_the_card_records_alpha_model_and_accounting(audited, tmp_path):
    folder, _ = audited
    result = export(folder, tmp_path / "out", alpha="ci-low")
    header, body = _card(result.card_file)
    results = load_results(folder)
    record = header["typicality_debiasing"]
    headline = results.headline_estimate
    assert record["alpha"] == headline.ci_low and record["how"] == "ci-low" and "ci-low" in record["reason"]
    assert record["model_fingerprint"] == results.model["fingerprint"]
    assert record["source_accounting"] == results.dataset.accounting
    assert record["pair_accounting"] == results.pairs
    assert header["configs"][0]["data_files"][0]["path"] == "train.parquet"
    assert "## The alpha removed" in body and f"{headline.ci_low:.4f}" in body


def test_loads_with_datasets_in_both_formats(audited, tmp_path):
    from datasets import load_dataset

    folder, _ = audited
    parquet = export(folder, tmp_path / "parquet")
    jsonl = export(folder, tmp_path / "jsonl", format="jsonl")
    from_parquet = load_dataset("parquet", data_files=str(parquet.data_file), split="train").to_pandas()
    from_json = load_dataset("json", data_files=str(jsonl.data_file), split="train").to_pandas()
    expected = pd.read_parquet(parquet.data_file)
    pd.testing.assert_frame_equal(from_parquet[COLUMNS], expected, check_dtype=False)
    pd.testing.assert_frame_equal(from_json[COLUMNS], expected, check_dtype=False)
    # The card's YAML header is a Hub dataset card: `load_dataset(folder)` finds the data through its configs.
    from_folder = load_dataset(str(parquet.folder), split="train")
    assert from_folder.num_rows == len(expected)


def test_ties_both_ways(tmp_path):
    data = _audit(tmp_path / "audit", ties="half")
    result = export(tmp_path / "audit", tmp_path / "out", ties="both")
    frame = pd.read_parquet(result.data_file)
    n_ties = int((data.comparisons["label"] == 0.5).sum())
    assert n_ties > 0 and int(frame["tie"].sum()) == 2 * n_ties
    assert len(frame) == len(data.comparisons) + n_ties
    ties = frame[frame["tie"]]
    # Each tie once each way: the two margins cancel, the two probabilities sum to 1.
    by_pair = ties.groupby("comparison")
    assert_allclose(by_pair["margin"].sum(), 0.0, atol=1e-12)
    assert_allclose(by_pair["p_chosen_with_typicality"].sum(), 1.0, rtol=1e-12)
    # An audit fitted with ties dropped rebuilds them from its scores, same seed, same decided pairs.
    _audit(tmp_path / "dropped")
    rebuilt = pd.read_parquet(export(tmp_path / "dropped", tmp_path / "out2", ties="both").data_file)
    plain = pd.read_parquet(export(tmp_path / "dropped", tmp_path / "out3").data_file)
    pd.testing.assert_frame_equal(rebuilt[~rebuilt["tie"]].reset_index(drop=True), plain)


def test_pairwise_data_has_no_controls_and_no_flips(tmp_path):
    from tests.stats.builders import random_pairwise
    from typicality.audit_folder import save_data

    data, scores = random_pairwise(150, seed=4, alpha=0.8)
    save_data(data, tmp_path / "audit")
    save_analysis(*analyze_with_design(data, scores), tmp_path / "audit")
    result = export(tmp_path / "audit", tmp_path / "out")
    frame = pd.read_parquet(result.data_file)
    assert result.model.controls == []
    assert (frame["p_chosen_without_typicality"] == 0.5).all() and not frame["flip"].any()
    assert_allclose(frame["weight"], 0.5 / frame["p_chosen_with_typicality"])


def test_refusals_write_nothing(tmp_path):
    _audit(tmp_path / "tiny", prompts=3)  # too small for any fit
    with pytest.raises(TypicalityError, match="no usable fit"):
        export(tmp_path / "tiny", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.glob(".out*")) == []

    _audit(tmp_path / "old")
    content = json.loads((tmp_path / "old" / RESULTS_FILE).read_text())  # the file itself, as another version would write it
    content["format_version"] = 1
    (tmp_path / "old" / RESULTS_FILE).write_text(json.dumps(content))
    with pytest.raises(TypicalityError, match="another version of typicality"):
        export(tmp_path / "old", tmp_path / "out")
    assert not (tmp_path / "out").exists()

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(TypicalityError, match="not empty"):
        export(tmp_path / "tiny", tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    with pytest.raises(TypicalityError, match="--format"):
        export(tmp_path / "tiny", tmp_path / "out", format="csv")


def test_python_api_and_cli(audited, tmp_path, capsys):
    folder, _ = audited
    assert typicality.export(folder, tmp_path / "api").n_rows > 0
    assert main(["export", str(folder), "--out", str(tmp_path / "cli"), "--format", "jsonl", "--alpha", "0.3", "--tie-rows", "drop"]) == 0
    printed = capsys.readouterr().out
    assert "train.jsonl" in printed and "alpha 0.3" in printed
    header, _ = _card(tmp_path / "cli" / "README.md")
    assert header["typicality_debiasing"]["alpha"] == 0.3 and header["typicality_debiasing"]["how"] == "value"
    assert main(["export", str(folder), "--out", str(tmp_path / "cli")]) == 2  # exists: one clear message
    assert "already exists" in capsys.readouterr().err


def _tiny_reward_model(texts: list[str]):
    """A word-level tokenizer over these texts and a randomly initialised 1-layer Llama with a scalar head (no downloads)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForSequenceClassification, PreTrainedTokenizerFast

    vocabulary = {"[PAD]": 0, "[UNK]": 1, "[EOS]": 2}
    for text in texts:
        for word in text.split():
            vocabulary.setdefault(word, len(vocabulary))
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]")
    config = LlamaConfig(
        vocab_size=len(vocabulary), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=128, num_labels=1, pad_token_id=0, eos_token_id=2,
    )
    return LlamaForSequenceClassification(config), wrapped


def _trl_reads_margin() -> bool:
    """TRL's RewardTrainer reads a `margin` column since v0.7.2 (huggingface/trl#719)."""
    from importlib.metadata import version

    from packaging.version import Version

    return Version(version("trl")) >= Version("0.7.2")


@pytest.mark.slow  # imports TRL's training stack (~10 s)
def test_trl_reward_trainer_consumes_the_export(audited, tmp_path):
    """A few steps of TRL's RewardTrainer on the export, with the margin, on a tiny randomly initialised model."""
    import torch
    from datasets import load_dataset

    trl = pytest.importorskip("trl", reason="TRL is in the test extras (pip install -e '.[test]')")
    folder, _ = audited
    result = export(folder, tmp_path / "out")
    dataset = load_dataset("parquet", data_files=str(result.data_file), split="train").select(range(32))
    if not _trl_reads_margin():
        dataset = dataset.remove_columns(["margin"])
    model, tokenizer = _tiny_reward_model(list(dataset["prompt"]) + list(dataset["chosen"]) + list(dataset["rejected"]))
    config = trl.RewardConfig(
        output_dir=str(tmp_path / "trainer"), max_steps=3, per_device_train_batch_size=8, learning_rate=1e-3,
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, max_length=64, dataset_num_proc=None,
    )
    trainer = trl.RewardTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
    # The margin reaches the loss: TRL's loss on one batch equals -logsigmoid(r_c - r_r - margin) computed here.
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(8)])
    if not _trl_reads_margin():  # an old TRL: the plain Bradley-Terry loss still trains on the rows
        assert np.isfinite(trainer.train().training_loss)
        return
    assert_allclose(batch["margin"].numpy(), np.asarray(list(dataset["margin"])[:8]), rtol=1e-6)
    with torch.no_grad():
        loss = trainer.compute_loss(model, dict(batch))
        rewards = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.squeeze(-1)
    chosen, rejected = rewards[:8], rewards[8:]  # the collator stacks the chosen texts, then the rejected ones
    expected = -torch.nn.functional.logsigmoid(chosen - rejected - batch["margin"]).mean()
    without_margin = -torch.nn.functional.logsigmoid(chosen - rejected).mean()
    assert_allclose(loss.item(), expected.item(), rtol=1e-5)
    assert abs(loss.item() - without_margin.item()) > 1e-4
    history = trainer.train()
    assert np.isfinite(history.training_loss) and trainer.state.global_step == 3


def test_the_card_names_its_source_datasets_and_licence(audited, tmp_path):
    from typicality.audit_folder import AuditFolder
    from typicality.debiased_export import source_datasets, source_license

    folder, _ = audited
    header, body = _card(export(folder, tmp_path / "out").card_file)
    # Simulated data comes from no hub dataset: no source, an unknown licence, and the card says so.
    assert header["source_datasets"] == [] and header["license"] == "unknown"
    assert "Derived from the user's own files" in body
    # The committed HH-RLHF audit read a local copy of Anthropic's file: its hub id and MIT licence (data/hh-rlhf/LICENSE).
    hh = load_results("reports/hh-rlhf-helpful-base")
    assert hh.dataset.provenance[0]["kind"] == "file"
    assert source_datasets(AuditFolder(results=hh)) == ["Anthropic/hh-rlhf"] and source_license(["Anthropic/hh-rlhf"]) == "mit"
    hub = hh.replace(dataset=hh.dataset.replace(provenance=[{"kind": "hub", "id": "nvidia/HelpSteer2", "split": "train"}]))
    assert source_datasets(AuditFolder(results=hub)) == ["nvidia/HelpSteer2"] and source_license(["nvidia/HelpSteer2", "x/y"]) == "unknown"


@pytest.mark.slow  # imports TRL's training stack (~10 s)
def test_the_cards_training_snippet_runs(audited, tmp_path, monkeypatch):
    """The card's snippet, as written: the margin reaches RewardTrainer's batches, and the weights resample the rows."""
    pytest.importorskip("trl", reason="TRL is in the test extras (pip install -e '.[test]')")
    folder, _ = audited
    result = export(folder, tmp_path / "out")
    _, body = _card(result.card_file)
    snippet = body.split("## Training on it\n\n```python\n", 1)[1].split("```", 1)[0]
    assert "DPOTrainer" in snippet and "does not read" not in snippet and "no TRL trainer reads a `weight` column" in snippet
    frame = pd.read_parquet(result.data_file)
    model, tokenizer = _tiny_reward_model(list(frame["prompt"]) + list(frame["chosen"]) + list(frame["rejected"]))
    monkeypatch.chdir(result.folder)
    scope = {"model": model, "tokenizer": tokenizer}
    exec(compile(snippet, "README.md", "exec"), scope)  # noqa: S102 - the card's own snippet, run as a reader would
    trainer, train, reweighted = scope["trainer"], scope["train"], scope["reweighted"]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    assert_allclose(batch["margin"].numpy(), frame["margin"].to_numpy()[:4], rtol=1e-6)
    # Rows drawn with probability w / sum(w): the mean weight of the draw estimates sum(w^2) / sum(w), within 4 standard errors.
    weight = frame["weight"].to_numpy()
    p = weight / weight.sum()
    drawn = np.asarray(reweighted["weight"])
    expected, spread = (p * weight).sum(), np.sqrt((p * (weight - (p * weight).sum()) ** 2).sum() / len(drawn))
    assert len(reweighted) == len(train) and abs(drawn.mean() - expected) < 4 * spread
    assert abs(expected - weight.mean()) > 4 * spread  # the draw differs from the plain rows: the weights act
