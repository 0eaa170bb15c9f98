"""A trained verifier on disk: adapter (or full model) plus `verifier.json` metadata.

In scope: writing and reading the metadata that `GenRMVerifier.load`,
`GenRMCoTVerifier.load` and `ORMVerifier.load` need (kind, base model,
training method and settings), a fingerprint of the base model's
architecture so an adapter made for another model is refused with a clear
error, and loading the model behind an artifact. Left out: training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import VerbalRLError

METADATA_FILE = "verifier.json"
FULL_MODEL_DIR = "model"

Kind = Literal["genrm", "genrm_cot", "orm", "prm", "generator"]


class ArtifactError(VerbalRLError):
    """A verifier folder is missing, malformed, or made for another base model."""


class ArtifactMetadata(BaseModel):
    """What `verifier.json` holds."""

    model_config = ConfigDict(extra="allow")

    format: Literal["verbalrl-verifier"] = "verbalrl-verifier"
    version: int = 1
    kind: Kind
    base_model: str = Field(min_length=1)
    base_fingerprint: dict[str, Any]
    method: Literal["lora", "full"]
    settings: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


def fingerprint(config: Any) -> dict[str, Any]:
    """Architecture facts that must match between an adapter and its base model."""
    keys = ("model_type", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads")
    return {k: getattr(config, k, None) for k in keys}


def write_metadata(folder: Path, meta: ArtifactMetadata) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / METADATA_FILE).write_text(meta.model_dump_json(indent=2), encoding="utf-8")


def read_metadata(folder: str | Path) -> ArtifactMetadata:
    """Read `verifier.json`, with an error that says what is wrong and where."""
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(
            f"{str(folder)!r} is not a trained verifier: no {METADATA_FILE} "
            "(train one with `verbalrl train-verifier`)"
        )
    try:
        return ArtifactMetadata.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ArtifactError(f"{path} is malformed: {exc}") from exc


# Trained verifiers shipped inside the package, by name. Each is reproduced by a
# documented command (see README, "The packaged trained verifiers").
ASSETS = Path(__file__).resolve().parent / "assets"
PACKAGED = {"genrm-sum30": ASSETS / "genrm-sum30", "genrm-stream": ASSETS / "genrm-stream"}
# What each packaged verifier was trained on: (task name, the task options it needs). A run that
# names no verifier gets the first one that covers its task (`registry.default_verifier`).
PACKAGED_COVERS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # The learning stream's families (`verbalrl.run.stream.STREAM_FAMILIES`), zero-shot and after
    # demonstrations (`make genrm`). First: on sum30 after demonstrations (the form memory
    # produces) it is the more precise of the two (benchmarks/RESULTS.md, issue 11).
    "genrm-stream": [
        ("arithmetic", {"level": "sum30"}),
        ("word_sort", {"test_min_words": 2, "test_max_words": 2}),
        ("last_letter", {"test_min_words": 1, "test_max_words": 1}),
    ],
    "genrm-sum30": [("arithmetic", {"level": "sum30"})],
}


def resolve_artifact(name: str | Path) -> str | Path:
    """A packaged verifier's folder for its name (e.g. `genrm-sum30`); other names unchanged."""
    packaged = PACKAGED.get(str(name))
    if packaged is not None and (packaged / METADATA_FILE).is_file():
        return packaged
    return name


def is_artifact(name: str | Path) -> bool:
    return (Path(resolve_artifact(name)) / METADATA_FILE).is_file()


def load_artifact_llm(folder: str | Path, expected: tuple[Kind, ...], **options: Any) -> Any:
    """Load the `TransformersLLM` behind an artifact, checking kind and base model."""
    from ..llm.transformers_backend import TransformersLLM

    folder = Path(resolve_artifact(folder))
    meta = read_metadata(folder)
    if meta.kind not in expected:
        raise ArtifactError(f"{folder} holds a {meta.kind!r} model, expected one of {expected}")
    if meta.method == "full":
        return TransformersLLM.load(str(folder / FULL_MODEL_DIR), **options), meta
    base = options.pop("base_model", None) or meta.base_model
    llm = TransformersLLM.load(base, **options)
    found = fingerprint(llm.model.config)
    if found != meta.base_fingerprint:
        raise ArtifactError(
            f"the adapter in {folder} was trained on {meta.base_model!r} {meta.base_fingerprint}, "
            f"but {base!r} is {found}: load it with its own base model"
        )
    from peft import PeftModel

    from ..quiet import quiet_loading

    with quiet_loading():
        llm.model = PeftModel.from_pretrained(llm.model, str(folder)).eval()
    llm.name = f"{meta.kind}:{folder.name}"
    return llm, meta
