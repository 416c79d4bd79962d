"""A tiny random Gemma 3 with a byte-level BPE tokenizer, built in a second, for fast scorer tests.

Small but not trivial: sliding-window and full-attention layers (a window of 8 tokens, so
padding mistakes show), final-logit soft-capping, weights large enough that log-probabilities
differ by whole nats, a BOS the tokenizer adds by itself (like Gemma's), and BPE merges that
make tokens span a prompt/response join ("the capit" + "al" -> "Ġcapital").
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "The capital of France is Paris.",
    "What is the capital of Italy? The capital of Italy is Rome.",
    "Human: Can you help me? Assistant: Sure, I can help you with that.",
    "I think that is a good question and the answer is not simple.",
    "Here is a list of things you could try: read, walk, sleep.",
] * 20


def build_tiny_model(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS, trainer)
    bos = tokenizer.token_to_id("<bos>")
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", bos)])
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    config = Gemma3TextConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=8,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        max_position_embeddings=256,
        final_logit_softcapping=8.0,
        initializer_range=0.3,
        pad_token_id=tokenizer.token_to_id("<pad>"),
        bos_token_id=bos,
        eos_token_id=tokenizer.token_to_id("<eos>"),
    )
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    wrapped.save_pretrained(str(folder))
    return folder


def build_overflowing_model(tiny: Path, folder: Path) -> Path:
    """The tiny model with its MLP outputs scaled up, so its residual stream overflows float16 (as Gemma's does)."""
    import shutil

    import torch
    from transformers import Gemma3ForCausalLM

    model = Gemma3ForCausalLM.from_pretrained(str(tiny))
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.down_proj.weight.mul_(3e3)
    model.save_pretrained(str(folder))
    for path in tiny.iterdir():
        if "token" in path.name:  # tokenizer.json, tokenizer_config.json, special_tokens_map.json
            shutil.copy(path, folder / path.name)
    return folder
