"""A tiny random Llama (2 layers, hidden 64, context 512) with a real tokenizer: fast, real transformers.

The tests' `tiny_llama_dir` fixture and the benchmarks that need a model whose
decoding costs nothing (server fuzzing) both build it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_tiny_llama(folder: Path, tokenizer: Any, context: int = 512, init_range: float = 0.02) -> Path:
    """Save a seeded random tiny Llama with `tokenizer` and a `context`-token window; returns `folder`.

    `init_range` is the weights' initial standard deviation: the default (transformers') leaves
    a 64-wide model's logits nearly flat, so no fine-tuning can make one token likely; a test
    that must see a trained head move a token's probability uses a larger one.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=init_range,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
