"""The search space of module-level tuning: which graph, with which settings, prompted how.

In scope: `SearchSpace` (the choices, validated) and `suggest(trial, base)`,
which asks an Optuna trial for one point of the space and returns it as an
`AgentSpec` (the base spec with the chosen graph, config fields,
instructions and number of demonstrations). Conditional choices are asked
only where they apply (`n_agents` for the multi graph). Left out: scoring a
spec (`objective.py`) and the study (`study.py`).

The reflective graph is searched without memory (`use_memory=False`:
Reflexion within each problem): memory would carry what one trial learned
into the next problems and make trials depend on their order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from ..agents.prompted import Demonstration
from ..run.agent import AgentSpec

Graph = Literal["single", "multi", "reflective"]


class SearchSpace(BaseModel):
    """What a tune may choose. Each tuple is the candidates of one setting (one entry: fixed).

    `instructions`: candidate system messages; None stands for the task's own. `shots`: how
    many of `demonstrations` (bootstrapped or given) the solver sees as turns (0: none).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    graphs: tuple[Graph, ...] = ("single", "multi", "reflective")
    n_drafts: tuple[int, ...] = (1, 2, 4, 8)
    max_rounds: tuple[int, ...] = (1, 2, 3)
    thresholds: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
    temperature: tuple[float, float] = (0.1, 1.2)
    n_agents: tuple[int, ...] = (2, 3)
    instructions: tuple[str | None, ...] = (None,)
    shots: tuple[int, ...] = (0,)
    demonstrations: tuple[Demonstration, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> SearchSpace:
        for name in ("graphs", "n_drafts", "max_rounds", "thresholds", "n_agents", "instructions", "shots"):
            if not getattr(self, name):
                raise ValueError(f"{name}: give at least one candidate")
        low, high = self.temperature
        if not 0.0 <= low <= high <= 5.0:
            raise ValueError("temperature: need 0 <= low <= high <= 5")
        if max(self.shots) > len(self.demonstrations):
            raise ValueError(
                f"shots: up to {max(self.shots)} demonstrations asked, {len(self.demonstrations)} available"
            )
        return self

    def fixed(self) -> dict[str, Any]:
        """The settings with one candidate only (not asked of the trial)."""
        return {k: v[0] for k, v in self._choices().items() if len(v) == 1}

    def _choices(self) -> dict[str, Sequence[Any]]:
        return {
            "graph": self.graphs, "n_drafts": self.n_drafts, "max_rounds": self.max_rounds,
            "threshold": self.thresholds, "n_agents": self.n_agents,
            "instructions": tuple(range(len(self.instructions))), "shots": self.shots,
        }  # fmt: skip


def _pick(trial: Any, name: str, choices: Sequence[Any]) -> Any:
    return choices[0] if len(choices) == 1 else trial.suggest_categorical(name, list(choices))


def suggest(trial: Any, base: AgentSpec, space: SearchSpace) -> AgentSpec:
    """One point of `space` asked of an Optuna `trial`, as `base` with those settings."""
    graph = _pick(trial, "graph", space.graphs)
    config: dict[str, Any] = {
        "n_drafts": _pick(trial, "n_drafts", space.n_drafts),
        "max_rounds": _pick(trial, "max_rounds", space.max_rounds),
        "threshold": _pick(trial, "threshold", space.thresholds),
    }
    low, high = space.temperature
    config["temperature"] = low if low == high else round(trial.suggest_float("temperature", low, high), 2)
    if graph == "multi":
        config["n_agents"] = _pick(trial, "n_agents", space.n_agents)
    if graph == "reflective":
        config["use_memory"] = False
    same_graph = graph == base.graph
    kept = base.config.model_dump() if same_graph else {}
    if not same_graph:  # settings every graph shares carry over (budgets, tokens, seed, ...)
        shared = ("max_llm_calls", "max_tokens", "max_new_tokens", "critic_max_new_tokens", "seed", "top_p")
        kept = {k: v for k, v in base.config.model_dump().items() if k in shared}
    instructions = space.instructions[_pick(trial, "instructions", tuple(range(len(space.instructions))))]
    shots = _pick(trial, "shots", space.shots)
    return AgentSpec.parse_data(
        {
            **base.dump(),
            "graph": graph,
            "config": {**kept, **config},
            "instructions": instructions if instructions is not None else base.instructions,
            "demonstrations": [d.model_dump() for d in space.demonstrations[:shots]]
            if shots else [d.model_dump() for d in base.demonstrations],
        }
    )
