"""Tiny random causal LMs of several architectures, sharing the tiny Gemma's tokenizer (tiny_model.py).

Each has its own way of taking positions and masks, which packed rows (packing.py) must get
right: Llama (rotary positions, full attention), Mistral (one sliding window for every layer,
no layer_types), Qwen2 (sliding and full layers named by layer_types), GPT-2 (learned absolute
positions). Windows of 6 tokens, so the texts of the tests run past them; weights large enough
(initializer_range 0.3) that log-probabilities differ by whole nats.
"""

from __future__ import annotations

import shutil
from pathlib import Path

WINDOW = 6
ARCHITECTURES = ("llama", "mistral", "qwen2-mixed", "gpt2")


def _config(architecture: str, vocab_size: int, special_ids: dict):
    from transformers import GPT2Config, LlamaConfig, MistralConfig, Qwen2Config

    shared = dict(vocab_size=vocab_size, initializer_range=0.3, **special_ids)
    body = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
        head_dim=16, max_position_embeddings=256,
    )
    if architecture == "llama":
        return LlamaConfig(**body, **shared)
    if architecture == "mistral":
        return MistralConfig(**body, sliding_window=WINDOW, **shared)
    if architecture == "qwen2-mixed":
        # use_sliding_window=True, or Qwen2Config drops the window; explicit layer_types are kept as given
        return Qwen2Config(
            **body, use_sliding_window=True, sliding_window=WINDOW,
            layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"], **shared,
        )
    if architecture == "gpt2":
        return GPT2Config(n_embd=32, n_layer=4, n_head=2, n_positions=256, **shared)
    raise ValueError(architecture)


def build_tiny_architecture(architecture: str, tiny_model_dir: Path, folder: Path) -> Path:
    """A random `architecture` model saved in `folder`, with the tokenizer files of the tiny Gemma."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    special_ids = {
        "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
    }
    config = _config(architecture, len(tokenizer), special_ids)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    for path in tiny_model_dir.iterdir():
        if "token" in path.name:  # tokenizer.json, tokenizer_config.json, special_tokens_map.json
            shutil.copy(path, folder / path.name)
    return folder
