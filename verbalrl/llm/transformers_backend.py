"""Local Hugging Face models (folders, hub ids, GGUF files) as an `LLM`.

In scope: batched sampling of many prompts x n samples in padded batches
(the prompt prefix a batch shares run once and its KV cache reused: n samples
of one prompt, or a search's partial solutions of one problem), next-token
probabilities with the shared prompt prefix computed once per
batch (KV cache reuse, what GenRM scoring needs), top-k next-token
log-probabilities (what `verbalrl serve` returns as logprobs), bf16 on CPUs
that support it, chat templates, context-length checks, optional PEFT
adapters. Left out: training (see `verifier/`), serving (see `server.py`).

Model calls hold a lock: one model object is safe to share between threads,
but calls run one at a time (the CPU is the bottleneck anyway).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers import GenerationConfig as HFGenerationConfig

from ..errors import ModelNotFoundError
from ..quiet import quiet_loading
from .aliases import local_source, resolve_model
from .base import (
    Capabilities,
    Completion,
    GenerationConfig,
    Prompt,
    common_prefix_length,
    truncate_at_stop,
    validate_candidates,
    validate_prompts,
)
from .decode import (
    Decoded,
    DecodeRequest,
    TokenLogprob,
    cache_arg,
    decode,
    output_cache,
    prompt_logprobs,
)
from .prompting import TokenizerPrompts

log = logging.getLogger(__name__)

DType = Literal["auto", "float32", "bfloat16", "float16"]

# Prefixes shorter than this are cheaper to recompute than to cache and copy.
_MIN_SHARED_PREFIX = 8


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matmul (avx512_bf16 or AMX); measured 2-3x faster here."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_dtype(dtype: DType, device: str) -> torch.dtype:
    """The torch dtype for a requested name on a device ("auto": bf16 where fast, else fp32)."""
    if dtype != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
            dtype
        ]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else torch.float32


class TransformersLLM(TokenizerPrompts):
    """A causal LM from transformers, used in-process.

    Build with `TransformersLLM.load(name)` (alias, folder, .gguf or hub id) or
    wrap an already loaded model and tokenizer with the constructor.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: Any,
        *,
        name: str = "local",
        batch_size: int = 64,
        score_batch_size: int = 32,
        fast_scoring: bool = True,
        prefix_cache: bool = True,
    ) -> None:
        if batch_size < 1 or score_batch_size < 1:
            raise ValueError("batch_size and score_batch_size must be >= 1")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        self.score_batch_size = score_batch_size
        self.capabilities = Capabilities(
            chat=getattr(tokenizer, "chat_template", None) is not None,
            raw_prompts=True,
            next_token_probs=True,
            seed=True,
        )
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._lock = threading.Lock()
        cfg = model.config
        self.context_length: int = int(
            getattr(cfg, "max_position_embeddings", None)
            or getattr(tokenizer, "model_max_length", 2048)
        )
        self._eos_ids = self._collect_eos_ids()
        # Next-token scoring through `fast_scoring.FastScorer` where the model is Llama-shaped
        # on the CPU (2.3x faster with a LoRA adapter, measured); rebuilt when weights change.
        self.fast_scoring = fast_scoring
        self._fast: tuple[Any, Any] | None = None
        # Sampling runs a batch's shared prompt prefix once (`_generate_batch`); off: every row in full.
        self.prefix_cache = prefix_cache

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        name: str,
        *,
        dtype: DType = "auto",
        device: str = "auto",
        adapter: str | Path | None = None,
        batch_size: int = 64,
        score_batch_size: int = 32,
        fast_scoring: bool = True,
    ) -> TransformersLLM:
        """Load a model by alias, folder, .gguf file or hub id (GGUF is converted once and cached)."""
        from ..threads import configure_threads

        configure_threads()  # torch's CPU threads: $VERBALRL_THREADS or the free cores
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        name, adapter = _unpack_artifact(name, adapter)
        resolved = resolve_model(name)
        source = local_source(resolved)
        torch_dtype = pick_dtype(dtype, device)
        try:
            with quiet_loading():
                tokenizer = AutoTokenizer.from_pretrained(source)
                model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype)
        except OSError as exc:
            raise ModelNotFoundError(
                f"could not load model {name!r} from {source!r}: {exc}"
            ) from exc
        if adapter is not None:
            from peft import PeftModel

            with quiet_loading():
                model = PeftModel.from_pretrained(model, str(adapter))
        model.to(device)
        return cls(
            model,
            tokenizer,
            name=name,
            batch_size=batch_size,
            score_batch_size=score_batch_size,
            fast_scoring=fast_scoring,
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def _collect_eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (
            self.tokenizer.eos_token_id,
            getattr(self.model.generation_config, "eos_token_id", None),
        ):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list | tuple):
                ids.update(int(i) for i in source)
        return ids

    # --------------------------------------------------------------- sampling
    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        """Sample `config.n` completions per prompt, all prompts batched together."""
        config = config or GenerationConfig()
        items = validate_prompts(prompts)
        encoded = self._encode_checked(items, reserve=1)
        # Repeat each prompt n times; sort by length so a batch holds similar lengths.
        jobs = [(i, s) for i in range(len(items)) for s in range(config.n)]
        jobs.sort(key=lambda job: len(encoded[job[0]]))
        results: list[list[Completion | None]] = [[None] * config.n for _ in items]
        with self._lock, torch.inference_mode():
            if config.seed is not None:
                torch.manual_seed(config.seed)
            for start in range(0, len(jobs), self.batch_size):
                batch = jobs[start : start + self.batch_size]
                completions = self._generate_batch([encoded[i] for i, _ in batch], config)
                for (i, s), completion in zip(batch, completions, strict=True):
                    results[i][s] = completion
        return [[c for c in row if c is not None] for row in results]

    def _generate_batch(self, batch: list[list[int]], config: GenerationConfig) -> list[Completion]:
        """Sample one completion per row; the prefix every row shares is run once, then its KV cache is
        repeated for the batch and the rows continue as left-padded suffixes (pads masked out). In
        float32 that samples what the full rows would (tested); in bf16 the rounding differs, as it
        does between batch sizes, so a near tie can go the other way."""
        pad = int(self.tokenizer.pad_token_id)
        shared = self._shared_prefix(batch) if self.prefix_cache else 0
        cache = self._prefix_cache(batch, shared)
        suffixes = [ids[shared:] for ids in batch]
        width = shared + max(len(ids) for ids in suffixes)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        input_ids[:, :shared] = torch.tensor(batch[0][:shared])
        mask[:, :shared] = 1
        for row, ids in enumerate(suffixes):  # left padding: generation continues at the right edge
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            mask[row, width - len(ids) :] = 1
        max_new = min(config.max_new_tokens, self.context_length - width)
        sampling = config.temperature > 0
        hf_config = HFGenerationConfig(
            max_new_tokens=max_new,
            do_sample=sampling,
            temperature=config.temperature if sampling else None,
            top_p=config.top_p if sampling else None,
            top_k=0 if sampling else None,  # HF's default top_k=50 would silently truncate sampling
            pad_token_id=pad,
            eos_token_id=sorted(self._eos_ids) or None,
            stop_strings=list(config.stop) or None,
        )
        out = self.model.generate(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            generation_config=hf_config,
            tokenizer=self.tokenizer if config.stop else None,
            **({cache_arg(self.model): cache} if cache is not None else {}),
        )
        new_tokens = out[:, width:].tolist()
        completions = []
        for ids, prompt_ids in zip(new_tokens, batch, strict=True):
            completions.append(self._to_completion(ids, len(prompt_ids), config, max_new))
        return completions

    def _prefix_cache(self, batch: list[list[int]], shared: int) -> Any:
        """The KV cache of the first `shared` tokens, run once and repeated for every row (None if 0)."""
        if not shared:
            return None
        prefix = torch.tensor([batch[0][:shared]], device=self.device)
        cache = output_cache(self.model(input_ids=prefix, use_cache=True))
        cache.batch_repeat_interleave(len(batch))
        return cache

    @staticmethod
    def _shared_prefix(batch: list[list[int]]) -> int:
        """Tokens every row of `batch` shares, keeping one of each row's own; 0 when not worth a cache."""
        if len(batch) < 2:
            return 0
        shared = min(common_prefix_length(batch), min(len(ids) for ids in batch) - 1)
        return shared if shared >= _MIN_SHARED_PREFIX else 0

    def _to_completion(
        self, ids: list[int], prompt_len: int, config: GenerationConfig, max_new: int
    ) -> Completion:
        # Rows that finished early are filled with pad (== eos for many models): cut at the first.
        ended = next((k for k, tok in enumerate(ids) if tok in self._eos_ids), None)
        kept = ids if ended is None else ids[:ended]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        text, stopped = truncate_at_stop(text, config.stop)
        generated = len(kept) + (0 if ended is None else 1)
        finish = "stop" if (ended is not None or stopped or len(kept) < max_new) else "length"
        return Completion(
            text=text, prompt_tokens=prompt_len, completion_tokens=generated, finish_reason=finish
        )

    # ------------------------------------------------------------- serving
    def decode(self, requests: Sequence[DecodeRequest]) -> list[Decoded]:
        """Decode rows with their own settings in one batch, streaming each (`decode.py`: the server's)."""
        with self._lock:
            return decode(self.model, self.tokenizer, self._eos_ids, requests, self.context_length)

    def prompt_logprobs(self, ids: list[int], k: int = 0) -> list[TokenLogprob]:
        """Each prompt token's log-probability given those before it, with the top `k` (for `echo`)."""
        with self._lock:
            return prompt_logprobs(self.model, self.tokenizer, ids, k)

    def detokenize(self, ids: Sequence[int]) -> str:
        """The text of token ids."""
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))

    # ------------------------------------------------------ next-token scoring
    def candidate_token_id(self, candidate: str) -> int:
        """The single token id of a candidate string; `ValueError` if it is several tokens."""
        ids = self.tokenizer.encode(candidate, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(
                f"candidate {candidate!r} is {len(ids)} tokens for {self.name}; "
                "next_token_probs takes single tokens (try with/without a leading space)"
            )
        return int(ids[0])

    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        """Probability of each single-token candidate at the next position, per prompt."""
        items = validate_prompts(prompts)
        cands = validate_candidates(candidates)
        cand_ids = torch.tensor([self.candidate_token_id(c) for c in cands])
        logprobs = self.next_token_logprobs(items)
        probs = logprobs[:, cand_ids].exp().tolist()
        return [dict(zip(cands, row, strict=True)) for row in probs]

    def top_logprobs(self, prompts: Sequence[Prompt], k: int = 20) -> list[list[tuple[str, float]]]:
        """The `k` most likely next tokens (decoded text, log-probability) for each prompt."""
        if k < 1:
            raise ValueError("k must be >= 1")
        logprobs = self.next_token_logprobs(validate_prompts(prompts))
        values, indices = logprobs.topk(min(k, logprobs.shape[-1]), dim=-1)
        out = []
        for vals, idxs in zip(values.tolist(), indices.tolist(), strict=True):
            out.append([(self.tokenizer.decode([i]), v) for i, v in zip(idxs, vals, strict=True)])
        return out

    def next_token_logprobs(self, prompts: Sequence[Prompt]) -> torch.Tensor:
        """Log-softmax (float32, on CPU) of the next-token logits: shape [len(prompts), vocab].

        Prompts are sorted by their token ids so that prompts sharing a prefix
        (one question, many candidate solutions) land in the same batch; the
        longest prefix common to a batch is run once and its KV cache reused.
        """
        encoded = self._encode_checked(list(prompts), reserve=0)
        order = sorted(range(len(encoded)), key=lambda i: encoded[i])
        result: list[torch.Tensor | None] = [None] * len(encoded)
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.score_batch_size):
                chunk = order[start : start + self.score_batch_size]
                rows = self._last_logprobs([encoded[i] for i in chunk])
                for i, row in zip(chunk, rows, strict=True):
                    result[i] = row
        return torch.stack([r for r in result if r is not None])

    def _fast_scorer(self) -> Any:
        """The packed scorer for this model, or None where it does not apply (see `fast_scoring.py`)."""
        from .fast_scoring import FastScorer, supports, weights_stamp

        if not self.fast_scoring or not supports(self.model):
            return None
        stamp = weights_stamp(self.model)
        if self._fast is None or self._fast[0] != stamp:
            self._fast = (stamp, FastScorer(self.model))
        return self._fast[1]

    def _last_logprobs(self, batch: list[list[int]]) -> torch.Tensor:
        scorer = self._fast_scorer()
        if scorer is not None:
            return scorer.last_logprobs(batch)  # type: ignore[no-any-return]
        return self._reference_last_logprobs(batch)

    def _reference_last_logprobs(self, batch: list[list[int]]) -> torch.Tensor:
        """Hugging Face's forward: left-padded suffixes after a cached shared prefix."""
        shared = self._shared_prefix(batch)  # keeps >= 1 suffix token each
        cache = self._prefix_cache(batch, shared)
        suffixes = [ids[shared:] for ids in batch]
        width = max(len(s) for s in suffixes)
        pad = int(self.tokenizer.pad_token_id)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        positions = torch.full((len(batch), width), shared, dtype=torch.long)
        for row, ids in enumerate(suffixes):
            # Left padding: every row ends at the last column, so only that column's logits
            # are computed (the vocab projection is ~20% of a forward pass at this size).
            # Pads between the shared prefix and a suffix are masked out.
            offset = width - len(ids)
            input_ids[row, offset:] = torch.tensor(ids)
            mask[row, shared + offset :] = 1
            positions[row, offset:] = torch.arange(shared, shared + len(ids))
        logits = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            use_cache=cache is not None,
            **{cache_arg(self.model): cache},
            logits_to_keep=1,
        ).logits
        return torch.log_softmax(logits[:, -1].float(), dim=-1).cpu()


def _unpack_artifact(name: str, adapter: str | Path | None) -> tuple[str, str | Path | None]:
    """A trained folder (`verifier.json`, written by `verbalrl train-*`) loads its base + adapter.

    Only the JSON is read here; `verifier/artifact.py` owns the format and checks it fully.
    """
    meta_path = Path(name) / "verifier.json"
    if not meta_path.is_file():
        return name, adapter
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("method") == "full":
            return str(Path(name) / "model"), adapter
        return str(meta["base_model"]), Path(name)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelNotFoundError(f"{meta_path} is malformed: {exc}") from exc
