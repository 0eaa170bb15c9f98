"""A lean forward pass for next-token scoring of many prompts (GenRM's hot path), Llama-family only.

GenRM reads one distribution per candidate: the next token after its prompt. Hugging Face's
forward pays for generality there: padded batches, a 4-D mask, RMSNorm and rotary as a dozen
small bf16 kernels each, six thin projections per layer, a PEFT adapter as two extra matmuls
per projection. Profiled on the 2-core CPU (16 candidates x 189 tokens, bf16) those cost as
much as the matmuls themselves.

This module runs the same arithmetic as a packed, fused pass:

- the prompts' longest common prefix runs once (causal, no mask) and its keys/values are kept;
- every suffix token of every prompt is packed into one `[tokens, hidden]` matrix: no padding,
  each linear layer is one matmul over all of them;
- query/key/value are one fused projection, gate/up another; a LoRA adapter is merged into
  these copies (in float32, then cast), the model itself is left untouched;
- attention runs per group of equal-length suffixes against the prefix keys plus their own;
- the last layer's attention output, MLP and the head run for the last positions only.

Scores equal the reference path (`TransformersLLM` through HF's forward) within bf16 rounding;
`tests/llm/test_fast_scoring.py` asserts it. Models that are not Llama-shaped (`supports`)
use the reference path. Left out: generation (the KV layout here is read-only), sliding-window
attention, biases other than q/k/v biases (Qwen2), and GPUs (there HF's batched path is fine).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .base import common_prefix_length

# Architectures whose decoder layers are exactly: RMSNorm, q/k/v/o attention with rotary
# embeddings and grouped-query heads, RMSNorm, SiLU-gated MLP (and optional q/k/v biases).
_SUPPORTED = {"llama", "mistral", "qwen2"}


def supports(model: Any) -> bool:
    """True when `model` (plain or PEFT-wrapped) is a CPU Llama-family causal LM this module runs."""
    base = _causal_lm(model)
    cfg = getattr(base, "config", None)
    if cfg is None or getattr(cfg, "model_type", None) not in _SUPPORTED:
        return False
    if getattr(cfg, "use_sliding_window", False) or getattr(cfg, "hidden_act", "silu") != "silu":
        return False
    if cfg.model_type == "mistral" and getattr(cfg, "sliding_window", None):
        return False
    if _lora_variants(model) or hasattr(base.model.embed_tokens, "base_layer"):
        return False
    return next(base.parameters()).device.type == "cpu"


def weights_stamp(model: Any) -> tuple[Any, ...]:
    """Changes when the model's weights or active adapters change (a `FastScorer` is then stale).

    Parameters count in-place updates in `_version` (an optimizer step, `load_state_dict`).
    """
    params = tuple((id(p), p._version) for p in model.parameters())
    adapters = tuple(
        (m.merged, m.disable_adapters, tuple(m.active_adapters))
        for m in model.modules()
        if hasattr(m, "lora_A")
    )
    return params, adapters


class FastScorer:
    """Packed weights of one model for `last_logprobs`; rebuild after the weights change
    (`weights_stamp`). The fused q/k/v and gate/up copies take about two thirds of the model's
    memory again (180 MB for SmolLM2-135M in bf16)."""

    def __init__(self, model: Any) -> None:
        if not supports(model):
            raise ValueError("FastScorer supports Llama-family models on the CPU only")
        base = _causal_lm(model)
        cfg = base.config
        inner = base.model
        self.dtype = next(base.parameters()).dtype
        self.heads = int(cfg.num_attention_heads)
        self.kv_heads = int(getattr(cfg, "num_key_value_heads", None) or self.heads)
        self.head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads)
        self.eps = float(cfg.rms_norm_eps)
        self.embed = inner.embed_tokens.weight
        self.rotary = inner.rotary_emb
        self.norm = inner.norm.weight
        self.head = _Fused([base.lm_head])
        self.layers = [self._layer(layer) for layer in inner.layers]

    def _layer(self, layer: Any) -> dict[str, Any]:
        attn, mlp = layer.self_attn, layer.mlp
        return {
            "norm1": layer.input_layernorm.weight,
            "qkv": _Fused([attn.q_proj, attn.k_proj, attn.v_proj]),
            "o": _Fused([attn.o_proj]),
            "norm2": layer.post_attention_layernorm.weight,
            "gate_up": _Fused([mlp.gate_proj, mlp.up_proj]),
            "down": _Fused([mlp.down_proj]),
        }

    @torch.inference_mode()
    def last_logprobs(self, batch: list[list[int]]) -> torch.Tensor:
        """Log-softmax (float32) of the next-token logits after each prompt: `[len(batch), vocab]`."""
        if not batch or any(not ids for ids in batch):
            raise ValueError("every prompt needs at least one token")
        shared = common_prefix_length(batch)
        shared = min(shared, min(len(ids) for ids in batch) - 1)  # keep >= 1 suffix token each
        prefix_kv = self._prefix(batch[0][:shared]) if shared else None
        # Rows packed shortest suffix first, so rows of one length are one contiguous slice.
        order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
        lengths = [len(batch[i]) - shared for i in order]
        tokens = torch.tensor([t for i in order for t in batch[i][shared:]])
        positions = torch.cat([torch.arange(shared, shared + n) for n in lengths])
        ends = torch.tensor(lengths).cumsum(0) - 1  # each row's last token in the packed order
        groups = _groups(lengths)
        h = F.embedding(tokens, self.embed)
        cos, sin = self._rotary(positions)
        for index, layer in enumerate(self.layers):
            keep = ends if index == len(self.layers) - 1 else None
            kv = None if prefix_kv is None else prefix_kv[index]
            h = self._block(layer, h, cos, sin, groups, kv, keep)
        logits = self.head(_rms_norm(h, self.norm, self.eps, self.dtype))
        out = torch.empty(len(batch), logits.shape[-1])
        out[torch.tensor(order)] = torch.log_softmax(logits.float(), dim=-1)
        return out

    # ------------------------------------------------------------------ internals
    def _prefix(self, ids: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Run the shared prefix once; keep each layer's keys and values `[kv_heads, S, d]`."""
        h = F.embedding(torch.tensor(ids), self.embed)
        cos, sin = self._rotary(torch.arange(len(ids)))
        rep = self.heads // self.kv_heads
        kept = []
        for layer in self.layers:
            q, k, v = self._qkv(layer, h, cos, sin)
            kept.append((k, v))
            k, v = k.repeat_interleave(rep, dim=0), v.repeat_interleave(rep, dim=0)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            h = self._rest(layer, h, out, None)
        return kept

    def _block(
        self,
        layer: dict[str, Any],
        h: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        groups: list[tuple[int, int, int]],
        prefix: tuple[torch.Tensor, torch.Tensor] | None,
        keep: torch.Tensor | None,
    ) -> torch.Tensor:
        q, k, v = self._qkv(layer, h, cos, sin)  # [H, T, d], [KV, T, d], [KV, T, d]
        out = torch.empty_like(q)
        rep, d = self.heads // self.kv_heads, self.head_dim
        for start, rows, length in groups:
            span = slice(start, start + rows * length)
            # Grouped-query heads: the `rep` query heads of one key/value head are stacked into
            # one [rep * L] block, so one attention call per key/value head serves all of them.
            qg = q[:, span].reshape(self.kv_heads, rep, rows, length, d).permute(2, 0, 1, 3, 4)
            qg = qg.reshape(rows, self.kv_heads, rep * length, d)
            kg = k[:, span].reshape(self.kv_heads, rows, length, d).transpose(0, 1)
            vg = v[:, span].reshape(self.kv_heads, rows, length, d).transpose(0, 1)
            shared = 0
            if prefix is not None:
                pk, pv = prefix
                shared = pk.shape[1]
                kg = torch.cat([pk.expand(rows, -1, -1, -1), kg], dim=2)
                vg = torch.cat([pv.expand(rows, -1, -1, -1), vg], dim=2)
            mask = _causal_mask(shared, length).repeat(rep, 1)
            og = F.scaled_dot_product_attention(qg, kg, vg, attn_mask=mask)  # [rows, KV, rep*L, d]
            og = og.reshape(rows, self.kv_heads, rep, length, d).permute(1, 2, 0, 3, 4)
            out[:, span] = og.reshape(self.heads, rows * length, d)
        return self._rest(layer, h, out, keep)

    def _qkv(
        self, layer: dict[str, Any], h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fused q/k/v projection with rotary embeddings, as `[heads, T, d]`."""
        x = _rms_norm(h, layer["norm1"], self.eps, self.dtype)
        qkv = layer["qkv"](x)
        q_size, kv_size = self.heads * self.head_dim, self.kv_heads * self.head_dim
        q, k, v = qkv.split([q_size, kv_size, kv_size], dim=-1)
        q = q.unflatten(-1, (self.heads, self.head_dim)).transpose(0, 1)
        k = k.unflatten(-1, (self.kv_heads, self.head_dim)).transpose(0, 1)
        v = v.unflatten(-1, (self.kv_heads, self.head_dim)).transpose(0, 1)
        return _rope(q, cos, sin), _rope(k, cos, sin), v

    def _rest(
        self, layer: dict[str, Any], h: torch.Tensor, attn: torch.Tensor, keep: torch.Tensor | None
    ) -> torch.Tensor:
        """Output projection, residual, MLP, residual (for the rows in `keep` only, if given)."""
        attn = attn.transpose(0, 1).reshape(h.shape[0], -1)  # [T, H*d]
        if keep is not None:
            attn, h = attn[keep], h[keep]
        h = h + layer["o"](attn)
        x = _rms_norm(h, layer["norm2"], self.eps, self.dtype)
        gate, up = layer["gate_up"](x).chunk(2, dim=-1)
        return h + layer["down"](F.silu(gate) * up)

    def _rotary(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probe = self.embed[:1][None]  # only its dtype and device are read
        cos, sin = self.rotary(probe, positions[None])
        return cos[0], sin[0]  # [T, d]


def _causal_lm(model: Any) -> Any:
    """The transformers model under a PEFT wrapper (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


class _Fused:
    """Linear layers sharing one input as one matmul (weights concatenated along the output).

    Active LoRA adapters are not merged into the weights: merging into bf16 weights rounds
    most of the small update away (p(Yes) moved by 0.05, measured). Instead the adapters'
    A matrices are stacked (`h = x A^T`, all adapters of the group at once) and their scaled
    B matrices appended, block-diagonally, as extra input columns of the weight, so that
    `[x, h] [W, B]^T = x W^T + h B^T` is still one matmul whose sum is accumulated in float32
    and rounded once, as PEFT's float32 adapter sum is. Cost: a few percent more columns.
    """

    def __init__(self, linears: list[Any]) -> None:
        parts = [_parts(linear) for linear in linears]
        weights = [w for w, _, _ in parts]
        weight = torch.cat(weights) if len(weights) > 1 else weights[0]
        self.bias = None
        if any(b is not None for _, b, _ in parts):
            self.bias = torch.cat([b if b is not None else w.new_zeros(w.shape[0]) for w, b, _ in parts])
        pairs = [(row, a, b) for row, (_, _, loras) in enumerate(parts) for a, b in loras]
        self.lora_a: torch.Tensor | None = None
        if pairs:
            self.lora_a = torch.cat([a for _, a, _ in pairs]).to(weight.dtype)
            offsets = torch.tensor([0] + [w.shape[0] for w in weights]).cumsum(0).tolist()
            lora_b = torch.zeros(offsets[-1], self.lora_a.shape[0])
            col = 0
            for row, a, b in pairs:
                lora_b[offsets[row] : offsets[row + 1], col : col + a.shape[0]] = b.float()
                col += a.shape[0]
            weight = torch.cat([weight, lora_b.to(weight.dtype)], dim=1)
        self.weight = weight.contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.lora_a is not None:
            x = torch.cat([x, F.linear(x, self.lora_a)], dim=-1)
        return F.linear(x, self.weight, self.bias)


def _parts(
    linear: Any,
) -> tuple[torch.Tensor, torch.Tensor | None, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A linear layer's base weight, bias and active LoRA (A, scaling * B) pairs."""
    base = getattr(linear, "base_layer", None)
    if base is None:
        return linear.weight, linear.bias, []
    loras = []
    if not getattr(linear, "merged", False) and not getattr(linear, "disable_adapters", False):
        for name in linear.active_adapters:
            if name in linear.lora_A:
                scale = linear.scaling[name]
                loras.append((linear.lora_A[name].weight, linear.lora_B[name].weight * scale))
    return base.weight, base.bias, loras


def _lora_variants(model: Any) -> bool:
    """True when a PEFT model uses a LoRA variant (DoRA, ...) this module does not implement."""
    return any(bool(getattr(m, "lora_variant", None)) for m in model.modules())


def _rms_norm(h: torch.Tensor, weight: torch.Tensor, eps: float, dtype: torch.dtype) -> torch.Tensor:
    # HF's LlamaRMSNorm: normalise in float32, cast to the model dtype, then scale.
    return weight * F.rms_norm(h.float(), (h.shape[-1],), eps=eps).to(dtype)


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def _causal_mask(shared: int, length: int) -> torch.Tensor:
    """Suffix query i sees every prefix key and suffix keys 0..i: `[length, shared + length]`."""
    keys = torch.arange(shared + length)
    return keys[None, :] <= (shared + torch.arange(length))[:, None]


def _groups(lengths: list[int]) -> list[tuple[int, int, int]]:
    """Runs of equal suffix length in sorted `lengths`: (first packed token, rows, length)."""
    groups: list[tuple[int, int, int]] = []
    offset = 0
    for n in lengths:
        if groups and groups[-1][2] == n:
            start, rows, _ = groups[-1]
            groups[-1] = (start, rows + 1, n)
        else:
            groups.append((offset, 1, n))
        offset += n
    return groups
