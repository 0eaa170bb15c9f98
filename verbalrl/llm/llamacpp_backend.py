"""GGUF models run by llama.cpp (`llama-cpp-python`) as an `LLM`: `llamacpp:ALIAS_OR_PATH.gguf`.

Why it exists: on the 2-core CPU, llama.cpp samples the embedded model's candidate pools
faster than `TransformersLLM` (benchmarks/peers.py, "Against the alternatives" in
benchmarks/RESULTS.md): every sequence of a call advances in one `llama_decode` per step,
a prompt is decoded once and its KV cells shared by its n samples, sampling runs in C. For
next-token scoring (GenRM) it is slower than the packed transformers path, so verifiers stay
on transformers; `next_token_probs` is here for completeness (and for a GenRM on a GGUF model).

In scope: sampling n completions of many prompts (temperature, top-p, seed, stop strings,
EOS), chat templates, context checks, next-token probabilities with a shared prefix decoded
once. Prompts are rendered and tokenised by the model's Hugging Face tokenizer (the one
`TransformersLLM` uses), so both backends see the same token ids. Left out: LoRA adapters
(GenRM scoring stays on transformers), GPUs, logprobs for `verbalrl serve`.

llama-cpp-python is an optional extra with no wheel here: `make setup` builds it (about 5
minutes once, then pip's cache) with the flags DESIGN.md gives; its native build crashes on
this CPU.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import CapabilityError, ContextLengthError, ModelNotFoundError
from ..paths import verbalrl_home
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
from .prompting import TokenizerPrompts

_SILENCED = False
Weights = Literal["f16", "q8_0", "file"]
FTYPES = {"f16": 1, "q8_0": 7}  # llama.cpp's LLAMA_FTYPE_MOSTLY_F16 / _Q8_0


def reencoded(gguf: Path, weights: str) -> Path:
    """`gguf` re-encoded as `weights` (F16 or Q8_0), made once into verbalrl's cache, atomically."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    target = verbalrl_home() / "models" / f"{gguf.stem.lower()}-{key[:12]}.{weights}.gguf"
    if target.is_file():
        return target
    lc = _llama_cpp()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".reencode-", suffix=".gguf", dir=target.parent)
    os.close(fd)
    try:
        params = lc.llama_model_quantize_default_params()
        params.ftype = FTYPES[weights]
        params.allow_requantize = True
        if lc.llama_model_quantize(str(gguf).encode(), tmp.encode(), ctypes.byref(params)) != 0:
            raise ModelNotFoundError(f"llama.cpp could not re-encode {gguf} as {weights}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CapabilityError(
            "llamacpp: models need llama-cpp-python; `make setup` builds it, or: "
            'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON '
            '-DGGML_OPENMP=OFF" pip install llama-cpp-python'
        ) from exc
    global _SILENCED
    if not _SILENCED:  # llama.cpp logs every tensor it loads to stderr
        llama_cpp.llama_log_set(_QUIET, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        _SILENCED = True
    return llama_cpp


@ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
def _QUIET(level: int, text: bytes, data: Any) -> None:  # noqa: N802 - a C callback
    return None


class LlamaCppLLM(TokenizerPrompts):
    """A GGUF model in llama.cpp, many sequences per decode call. Build with `LlamaCppLLM.load(name)`."""

    def __init__(
        self,
        path: str | Path,
        tokenizer: Any,
        *,
        name: str = "llamacpp",
        context: int = 16_384,
        sequences: int = 64,
        threads: int | None = None,
    ) -> None:
        if context < 64 or sequences < 1:
            raise ValueError("context must be >= 64 cells and sequences >= 1")
        self._closed = True  # until everything below exists
        lc = _llama_cpp()
        self._lc = lc
        self.name = name
        self.tokenizer = tokenizer
        self.sequences = sequences
        self.capabilities = Capabilities(
            chat=getattr(tokenizer, "chat_template", None) is not None,
            raw_prompts=True,
            next_token_probs=True,
            seed=True,
        )
        self._model = lc.llama_model_load_from_file(str(path).encode(), lc.llama_model_default_params())
        if not self._model:
            raise ModelNotFoundError(f"llama.cpp could not load {path}")
        params = lc.llama_context_default_params()
        params.n_ctx = params.n_batch = context
        params.n_ubatch = 512
        params.n_seq_max = sequences
        params.kv_unified = True  # a prompt's cells are shared by its samples, not copied
        from ..threads import configure_threads

        threads = configure_threads(threads)  # --threads / $VERBALRL_THREADS / the free cores
        params.n_threads = params.n_threads_batch = threads
        self._ctx = lc.llama_init_from_model(self._model, params)
        if not self._ctx:
            lc.llama_model_free(self._model)
            raise ModelNotFoundError(f"llama.cpp could not make a context of {context} cells for {path}")
        self.cells = lc.llama_n_ctx(self._ctx)
        self.context_length = min(int(lc.llama_model_n_ctx_train(self._model)), self.cells)
        vocab = lc.llama_model_get_vocab(self._model)
        self._n_vocab = int(lc.llama_vocab_n_tokens(vocab))
        self._eos = {int(lc.llama_vocab_eos(vocab)), int(lc.llama_vocab_eot(vocab))} - {-1}
        if tokenizer.eos_token_id is not None:
            self._eos.add(int(tokenizer.eos_token_id))
        self._batch = lc.llama_batch_init(self.cells, 0, sequences)
        self._memory = lc.llama_get_memory(self._ctx)
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def load(cls, name: str, *, weights: Weights = "f16", **options: Any) -> LlamaCppLLM:
        """An alias with a packaged GGUF (`smollm2-135m-instruct`) or a `.gguf` file path.

        `weights`: "f16" (default) re-encodes the file once as F16, the same weights transformers
        de-quantises and 2.1x transformers' sampling speed here; "q8_0" about as fast; "file"
        runs the file as it is (the shipped Q4_1: 1.6x). benchmarks/RESULTS.md has the figures.
        """
        from transformers import AutoTokenizer

        if weights not in FTYPES and weights != "file":
            raise ValueError(f"weights must be one of {', '.join([*FTYPES, 'file'])}, got {weights!r}")
        resolved = resolve_model(name)
        if resolved.gguf_file is None:
            raise ModelNotFoundError(
                f"llamacpp: needs a GGUF model (an alias that ships one, or a .gguf path), got {name!r}"
            )
        path = Path(resolved.source) / resolved.gguf_file
        if weights != "file":
            path = reencoded(path, weights)
        tokenizer = AutoTokenizer.from_pretrained(local_source(resolved))
        return cls(path, tokenizer, name=f"llamacpp:{name}", **options)

    def close(self) -> None:
        """Free llama.cpp's batch, context and model (also done when the object is collected)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._lc.llama_batch_free(self._batch)
        self._lc.llama_free(self._ctx)
        self._lc.llama_model_free(self._model)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit llama.cpp's bindings may be gone
            pass

    # --------------------------------------------------------------- sampling
    def generate(
        self, prompts: Sequence[Prompt], config: GenerationConfig | None = None
    ) -> list[list[Completion]]:
        """Sample `config.n` completions per prompt; as many prompts per decode loop as fit."""
        config = config or GenerationConfig()
        encoded = self._encode_checked(validate_prompts(prompts), reserve=1)
        results: list[list[Completion]] = [[] for _ in encoded]
        budget = min(config.max_new_tokens, self.context_length)
        with self._lock:
            sampler = self._sampler(config)
            try:
                for chunk in self._chunks(encoded, config.n, budget):
                    for k, completions in zip(chunk, self._run(encoded, chunk, config, sampler), strict=True):
                        results[k] = completions
            finally:
                self._lc.llama_sampler_free(sampler)
        return results

    def _chunks(self, encoded: list[list[int]], n: int, budget: int) -> list[list[int]]:
        """Prompt indices per decode loop: at most `sequences` rows and the KV cells they need."""
        if n > self.sequences:
            raise ValueError(f"n={n} exceeds the {self.sequences} parallel sequences of {self.name}")
        chunks: list[list[int]] = [[]]
        rows = cells = 0
        for k, ids in enumerate(encoded):
            need = len(ids) + n * budget
            if chunks[-1] and (rows + n > self.sequences or cells + need > self.cells):
                chunks.append([])
                rows = cells = 0
            if need > self.cells:
                raise ContextLengthError(
                    f"prompts[{k}] with {n} x {budget} new tokens needs {need} KV cells; "
                    f"{self.name} has {self.cells}: lower n or max_new_tokens, or raise context"
                )
            chunks[-1].append(k)
            rows, cells = rows + n, cells + need
        return chunks

    def _sampler(self, config: GenerationConfig) -> Any:
        lc = self._lc
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        if config.temperature <= 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
            return chain
        if config.top_p < 1.0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(config.top_p, 1))
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(config.temperature))
        seed = config.seed if config.seed is not None else int(np.random.default_rng().integers(2**32))
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed % 2**32))
        return chain

    def _run(
        self, encoded: list[list[int]], chunk: list[int], config: GenerationConfig, sampler: Any
    ) -> list[list[Completion]]:
        lc, n = self._lc, config.n
        budget = min(config.max_new_tokens, min(self.context_length - len(encoded[k]) for k in chunk))
        groups = [(encoded[k], list(range(j * n, (j + 1) * n))) for j, k in enumerate(chunk)]
        last = self._prefill(groups)
        # per sequence: (batch index of its logits, next position, generated ids, finished)
        rows: dict[int, list[Any]] = {
            s: [last[j], len(ids), [], None] for j, (ids, seqs) in enumerate(groups) for s in seqs
        }
        for _ in range(budget):
            entries = []
            for s, row in rows.items():
                if row[3] is not None:
                    continue
                token = int(lc.llama_sampler_sample(sampler, self._ctx, row[0]))
                if token in self._eos:
                    row[3] = "eos"
                    continue
                row[2].append(token)
                if config.stop and self._stopped(row[2], config.stop):
                    row[3] = "stop"
                    continue
                entries.append((token, row[1], s))
            if not entries:
                break
            self._decode([(t, p, s, True) for t, p, s in entries])
            for i, (_, pos, s) in enumerate(entries):
                rows[s][0], rows[s][1] = i, pos + 1
        out = []
        for ids, seqs in groups:
            completions = []
            for s in seqs:
                _, _, generated, ended = rows[s]
                text, stopped = truncate_at_stop(
                    self.tokenizer.decode(generated, skip_special_tokens=True), config.stop
                )
                finish = "stop" if ended is not None or stopped else "length"
                completions.append(
                    Completion(
                        text=text,
                        prompt_tokens=len(ids),
                        completion_tokens=len(generated) + (1 if ended == "eos" else 0),
                        finish_reason=finish,
                    )
                )
            out.append(completions)
        return out

    def _stopped(self, generated: list[int], stop: tuple[str, ...]) -> bool:
        tail = self.tokenizer.decode(generated[-16:], skip_special_tokens=True)
        return any(s in tail for s in stop)

    # ------------------------------------------------------ next-token scoring
    def next_token_probs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        """Probability of each single-token candidate at the next position, per prompt."""
        items = validate_prompts(prompts)
        cands = validate_candidates(candidates)
        ids = []
        for c in cands:
            tokens = self.tokenizer.encode(c, add_special_tokens=False)
            if len(tokens) != 1:
                raise ValueError(f"candidate {c!r} is {len(tokens)} tokens for {self.name}")
            ids.append(int(tokens[0]))
        encoded = self._encode_checked(items, reserve=0)
        order = sorted(range(len(encoded)), key=lambda i: encoded[i])
        out: list[dict[str, float]] = [{} for _ in encoded]
        with self._lock:
            for start in range(0, len(order), self.sequences):
                part = order[start : start + self.sequences]
                probs = self._score([encoded[i] for i in part], ids)
                for i, row in zip(part, probs, strict=True):
                    out[i] = dict(zip(cands, row, strict=True))
        return out

    def _score(self, prompts: list[list[int]], ids: list[int]) -> list[list[float]]:
        shared = common_prefix_length(prompts)
        shared = min(shared, min(len(p) for p in prompts) - 1)
        self._lc.llama_memory_clear(self._memory, True)
        if shared:
            self._prefill([(prompts[0][:shared], list(range(len(prompts))))], logits=False)
        entries, ends = [], []
        for s, p in enumerate(prompts):
            entries += [(t, shared + k, s, k == len(p) - shared - 1) for k, t in enumerate(p[shared:])]
            ends.append(len(entries) - 1)
        if len(entries) + shared > self.cells:
            raise ContextLengthError(f"{len(prompts)} prompts need more KV cells than {self.name} has")
        self._decode(entries)
        out = []
        for i in ends:
            logits = self._logits(i).astype(np.float64)
            top = logits.max()
            log_z = top + np.log(np.exp(logits - top).sum())
            out.append([float(np.exp(logits[t] - log_z)) for t in ids])
        return out

    # -------------------------------------------------------------- internals
    def _prefill(self, groups: list[tuple[list[int], list[int]]], logits: bool = True) -> list[int]:
        """Each prompt into its first sequence, its cells shared with the others; last-token indices."""
        self._lc.llama_memory_clear(self._memory, True)
        entries: list[tuple[int, int, int, bool]] = []
        last = []
        for ids, seqs in groups:
            entries += [(t, p, seqs[0], logits and p == len(ids) - 1) for p, t in enumerate(ids)]
            last.append(len(entries) - 1)
        self._decode(entries)
        for _, seqs in groups:
            for s in seqs[1:]:
                self._lc.llama_memory_seq_cp(self._memory, seqs[0], s, -1, -1)
        return last

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """Decode (token, position, sequence, wants logits) rows in one call."""
        batch = self._batch
        batch.n_tokens = len(entries)
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
            batch.seq_id[i][0] = seq
        status = self._lc.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status} ({self.name})")

    def _logits(self, i: int) -> np.ndarray:
        ptr = self._lc.llama_get_logits_ith(self._ctx, i)
        return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), (self._n_vocab,))
