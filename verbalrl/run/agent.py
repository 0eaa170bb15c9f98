"""An agent as a file: `AgentSpec` (YAML or JSON, versioned, validated) and `load_agent`, which runs one.

In scope: `AgentSpec`, everything that makes an agent: the graph and its
config (validated by that graph's own config class: `verbalrl.graphs.CONFIGS`),
the model and verifier references, the task and its options, the solver's
instructions (the system message, replacing the task's) and a fixed set of
demonstrations (few-shot chat turns before the question: `agents.prompted`);
reading and writing it (`read_agent_spec`, `AgentSpec.write`: the suffix
chooses YAML or JSON, and what is written reads back equal); `load_agent`,
which builds the runnable `Agent` (the compiled graph bound to its context,
the wrapped task, the model, the verifier and the memory) from a file or a
spec. A spec written by a person and one found by `verbalrl tune` are the
same thing. Left out: running many problems (`runner.py`: `Agent.run` builds
one, recording the spec in `run.json`) and finding good specs (`verbalrl.tuning`).

A bad file fails with one line naming the file and the field: an unknown
field (`extra="forbid"`), a bad value, a config field the graph does not
have, a `spec_version` this version cannot read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, model_validator

from ..agents.prompted import Demonstration, prompted
from ..errors import VerbalRLError
from ..graphs import CONFIGS, GRAPHS, GraphConfig
from ..tasks.base import Problem, Task

SPEC_VERSION: Literal[1] = 1
DEFAULT_MODEL = "smollm2-135m-instruct"


class AgentSpec(BaseModel):
    """A whole agent, as a person writes it or a search finds it (`spec_version: 1`).

    `config` is the graph's config (`SingleConfig`, `MultiConfig` or `ReflectiveConfig`, from
    a mapping of its fields; missing ones take the graph's defaults). `verifier` None means the
    packaged verifier that covers the task (`resolved()` fills it in). `memory` is the
    reflective graph's memory folder (None: the default folder).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec_version: Literal[1] = SPEC_VERSION
    name: str | None = Field(None, description="what this agent is, for people")
    graph: Literal["single", "multi", "reflective", "search"] = "single"
    config: SerializeAsAny[GraphConfig] = Field(default_factory=dict, validate_default=True)  # type: ignore[arg-type]
    model: str = Field(DEFAULT_MODEL, min_length=1)
    base_url: str | None = None
    dtype: str = Field("auto", description="auto | float32 | bfloat16 (local models)")
    verifier: str | None = None
    task: str = Field(min_length=1)
    task_options: dict[str, Any] = Field(default_factory=dict)
    instructions: str | None = Field(None, description="the solver's system message (None: the task's)")
    demonstrations: tuple[Demonstration, ...] = ()
    memory: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _graph_config(cls, data: Any) -> Any:
        """Validate `config` with the config class of `graph`, so errors name `config.FIELD`."""
        if not isinstance(data, dict):
            return data
        graph = data.get("graph", "single")
        config = data.get("config") or {}
        if graph not in CONFIGS:  # only the graph is reported: a config cannot be checked without it
            return {**data, "config": GraphConfig()}
        if isinstance(config, CONFIGS[graph]):
            return data
        if isinstance(config, GraphConfig):
            config = config.model_dump()
        if not isinstance(config, dict):
            return data  # pydantic reports the type
        try:
            return {**data, "config": CONFIGS[graph].model_validate(config)}
        except ValidationError as exc:  # re-raised under `config.`, so the error names where it is
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    {"type": e["type"], "loc": ("config", *e["loc"]), "input": e["input"],
                     **({"ctx": e["ctx"]} if "ctx" in e else {})}  # type: ignore[typeddict-item]
                    for e in exc.errors()
                ],
            ) from None

    @model_validator(mode="after")
    def _check(self) -> AgentSpec:
        if not isinstance(self.config, CONFIGS[self.graph]):
            raise ValueError(f"config is a {type(self.config).__name__}, graph {self.graph!r} needs a "
                             f"{CONFIGS[self.graph].__name__}")
        return self

    # ------------------------------------------------------------------ files
    def dump(self) -> dict[str, Any]:
        """The spec as plain JSON data, every config field written out (a full description)."""
        data = self.model_dump(mode="json")
        data["demonstrations"] = [dict(d) for d in data["demonstrations"]]
        return data

    def to_text(self, fmt: Literal["yaml", "json"] = "yaml") -> str:
        if fmt == "json":
            return json.dumps(self.dump(), indent=2, ensure_ascii=False) + "\n"
        import yaml

        return yaml.safe_dump(self.dump(), sort_keys=False, allow_unicode=True, width=100)

    def write(self, path: str | Path) -> Path:
        """Write the spec: JSON for a `.json` file, else YAML; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_text(_format_of(target)), encoding="utf-8")
        return target

    @classmethod
    def from_text(
        cls, text: str, fmt: Literal["yaml", "json"] = "yaml", where: str = "agent spec"
    ) -> AgentSpec:
        try:
            if fmt == "json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
            raise VerbalRLError(f"{where}: not valid {fmt.upper()}: {exc}") from None
        return cls.parse_data(data, where)

    @classmethod
    def parse_data(cls, data: Any, where: str = "agent spec") -> AgentSpec:
        """Validate `data`; a bad one raises `VerbalRLError` naming `where` and the field."""
        if not isinstance(data, dict):
            raise VerbalRLError(f"{where}: an agent spec is a mapping of fields, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise VerbalRLError(f"{where}: invalid agent spec: {describe_errors(exc)}") from None

    # ------------------------------------------------------------------ building
    def resolved(self) -> AgentSpec:
        """The spec with `verifier` chosen (the packaged one that covers the task) when unset."""
        if self.verifier is not None:
            return self
        from ..verifier.registry import default_verifier, verifier_help

        chosen = default_verifier(self.task, self.task_options)
        if chosen is None:
            raise VerbalRLError(f"agent spec names no verifier and none is packaged for this task: "
                                f"{verifier_help()}")
        return self.model_copy(update={"verifier": chosen})

    def load_task(self, task: Task | None = None) -> Task:
        """The task (`task`, else the one the spec names), with the spec's instructions and
        demonstrations in its solver prompt."""
        from ..tasks.registry import get_task

        task = task or get_task(self.task, **self.task_options)
        return prompted(task, self.instructions, self.demonstrations)

    def uses_memory(self) -> bool:
        return self.graph == "reflective" and bool(getattr(self.config, "use_memory", False))

    def replace(self, **fields: Any) -> AgentSpec:
        """A new spec with `fields` replaced, validated again (`config` may be a partial mapping of
        fields to change)."""
        data = self.dump()
        if isinstance(fields.get("config"), dict) and fields.get("graph", self.graph) == self.graph:
            fields["config"] = {**data["config"], **fields["config"]}
        return self.parse_data({**data, **fields})


def describe_errors(exc: ValidationError) -> str:
    """`field.path: message` for each error, joined by `; `."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


def _format_of(path: Path) -> Literal["yaml", "json"]:
    return "json" if path.suffix.lower() == ".json" else "yaml"


def read_agent_spec(path: str | Path) -> AgentSpec:
    """The agent spec in `path` (`.json`: JSON, else YAML), validated; errors name the file and field."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise VerbalRLError(f"agent spec {source}: cannot read it ({exc.strerror or exc})") from None
    return AgentSpec.from_text(text, _format_of(source), where=str(source))


def as_agent_spec(spec: AgentSpec | str | Path | dict[str, Any]) -> AgentSpec:
    if isinstance(spec, AgentSpec):
        return spec
    if isinstance(spec, dict):
        return AgentSpec.parse_data(spec)
    return read_agent_spec(spec)


# ---------------------------------------------------------------------- the runnable agent
@dataclass
class Agent:
    """A loaded agent: `graph` (compiled, its `GraphContext` bound) and what it was built from.

    `solve(question)` runs the graph on one question (or `Problem`) and returns its result;
    `run(split=..., n=...)` runs it over a task's problems with the `Runner` (results JSONL,
    checkpoints, resume) and records the spec in `run.json`. `close()` closes a memory it opened.
    """

    spec: AgentSpec
    task: Task
    llm: Any
    verifier: Any
    graph: Any
    memory: Any = None
    _owns_memory: bool = field(default=False, repr=False)

    @property
    def config(self) -> GraphConfig:
        return self.spec.config

    def problem(self, question: str) -> Problem:
        import hashlib

        digest = hashlib.sha256(question.encode()).hexdigest()[:8]
        return Problem(
            id=f"question-{digest}", task=self.task.name, split="test", question=question, answer=""
        )

    def solve(self, question: str | Problem, **invoke: Any) -> dict[str, Any]:
        """The graph's result for one question: answer, score, status, rounds, LLM calls, tokens."""
        from ..graphs import graph_options, initial_state

        problem = question if isinstance(question, Problem) else self.problem(question)
        options = {**graph_options(self.config), **invoke}
        final = self.graph.invoke(initial_state(problem), options)
        return dict(final["result"])

    def run(self, split: str = "test", n: int = 50, seed: int = 0, **options: Any) -> Any:
        """Run over `n` problems of `split` (a `RunReport`); `options` are `RunOptions` fields."""
        from .build import new_run_spec
        from .options import RunOptions
        from .runner import Runner

        run_options = RunOptions(**options)
        agent = self.spec
        if agent.verifier is None:  # a verifier object given to load_agent: recorded by its type
            agent = agent.model_copy(update={"verifier": f"python:{type(self.verifier).__name__}"})
        spec = new_run_spec(agent=agent, split=split, n=n, seed=seed, options=run_options)
        runner = Runner(
            spec.graph, self.llm, self.verifier, self.task, self.config, memory=self.memory,
            options=spec.options(runs_dir=run_options.runs_dir, progress=run_options.progress,
                                 console=run_options.console, on_event=run_options.on_event),
            spec=spec,
        )  # fmt: skip
        return runner.run(self.task.problems(split, n=n, seed=seed))  # type: ignore[arg-type]

    def close(self) -> None:
        if self._owns_memory and self.memory is not None:
            self.memory.close()
            self.memory = None

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_agent(
    spec: AgentSpec | str | Path | dict[str, Any],
    *,
    llm: Any = None,
    verifier: Any = None,
    memory: Any = None,
    checkpointer: Any = None,
    task: Task | None = None,
) -> Agent:
    """The runnable agent of `spec` (a file path, a mapping or an `AgentSpec`).

    The model, verifier, memory and task the spec names are loaded unless given
    (`llm=`, `verifier=`, `memory=`, `task=`: e.g. a model already loaded, or test doubles;
    a given task still gets the spec's instructions and demonstrations).
    """
    from ..graphs import build_graph
    from .spec import load_generator, open_run_memory

    agent_spec = as_agent_spec(spec)
    if verifier is None:
        agent_spec = agent_spec.resolved()
    task = agent_spec.load_task(task)
    if llm is None:
        llm = load_generator(agent_spec.model, agent_spec.base_url, agent_spec.dtype)
    if verifier is None:
        from ..verifier.registry import load_verifier

        verifier = load_verifier(agent_spec.verifier or "", llm, task)
    owns = False
    if memory is None and agent_spec.uses_memory():
        memory, owns = open_run_memory(agent_spec.memory), True
    graph = build_graph(
        agent_spec.graph, llm, verifier, agent_spec.config, memory=memory, checkpointer=checkpointer,
        task=task,
    )
    return Agent(agent_spec, task, llm, verifier, graph, memory, owns)


__all__ = [
    "DEFAULT_MODEL",
    "GRAPHS",
    "SPEC_VERSION",
    "Agent",
    "AgentSpec",
    "Demonstration",
    "as_agent_spec",
    "load_agent",
    "read_agent_spec",
]
