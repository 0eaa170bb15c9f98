"""Graph configurations: one frozen pydantic model per graph, validated at the edge.

In scope: sampling settings, the acceptance threshold, rounds, per-problem
budgets (LLM calls and generated tokens, counted from `Completion` token
counts and the verifier's `Usage`), and the feedback mode. Left out: the
dependencies (model, verifier, memory), which the factories take as arguments
and the nodes get as a `GraphContext` (`context.py`).

`learn_from_feedback` is the only way the task's exact checker enters a graph,
and then only to confirm what memory keeps; the loop always decides with the
verifier. `mode` names the setting for reports.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..agents.solver import PERSONAS

Mode = Literal["verifier_only", "learn_from_feedback"]


class GraphConfig(BaseModel):
    """Settings every graph shares; a bad value raises a `ValidationError` naming the field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_drafts: int = Field(4, ge=1, le=256, description="drafts sampled per solve step")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="accept when the best score reaches it")
    max_rounds: int = Field(3, ge=1, le=100, description="verify passes per problem, the first included")
    max_llm_calls: int | None = Field(
        64, ge=1, description="per problem: sequences generated or scored (None: no cap)"
    )
    max_tokens: int | None = Field(
        16_384, ge=1, description="per problem: generated tokens, verifier's included (None: no cap)"
    )
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int = Field(256, ge=1, le=32_768, description="per solution")
    critic_max_new_tokens: int = Field(128, ge=1, le=32_768, description="per critique / lesson")
    seed: int | None = Field(
        None, description="base seed: each call's seed derives from it, the problem id and the step"
    )
    revise_top: int = Field(1, ge=1, description="single graph: best drafts critiqued and revised per round")
    critique_from_verifier: bool = Field(
        True, description="use a GenRM-CoT rationale as the critique when the verifier gives one"
    )
    learn_from_feedback: bool = Field(
        False, description="let the task's checker confirm what memory stores (never the loop)"
    )

    @property
    def mode(self) -> Mode:
        """`learn_from_feedback` or `verifier_only`; written into every result."""
        return "learn_from_feedback" if self.learn_from_feedback else "verifier_only"


class SingleConfig(GraphConfig):
    """Single agent: N drafts, verify, then critique and revise until accepted or out of rounds."""


class MultiConfig(GraphConfig):
    """Multi-agent debate: M agents with personas/temperatures; `max_rounds - 1` debate rounds."""

    n_agents: int = Field(3, ge=1, le=32)
    personas: tuple[str, ...] = PERSONAS
    temperatures: tuple[float, ...] = (0.7, 0.9, 1.0)
    share_scores: bool = Field(True, description="debaters see the others' verifier scores")

    @model_validator(mode="after")
    def _lists(self) -> MultiConfig:
        if not self.personas or not self.temperatures:
            raise ValueError("personas and temperatures must each list at least one entry")
        if any(not 0.0 <= t <= 5.0 for t in self.temperatures):
            raise ValueError("temperatures must be in [0, 5]")
        return self

    def persona(self, agent: int) -> str:
        return self.personas[agent % len(self.personas)]

    def agent_temperature(self, agent: int) -> float:
        return self.temperatures[agent % len(self.temperatures)]


class ReflectiveConfig(GraphConfig):
    """Reflexion with memory: `max_rounds` is the number of trials per problem."""

    use_memory: bool = Field(
        True, description="recall from and store to memory; False: Reflexion within each problem only"
    )
    recall_k: int = Field(3, ge=0, le=50, description="exemplars / failures / lessons / concepts recalled")
    n_lessons: int = Field(3, ge=0, le=20, description="recent lessons of this problem kept in context")
    distill_every: int = Field(
        5, ge=0, description="distil concepts after every k stored experiences (0: never)"
    )
    distill_max_new_tokens: int = Field(256, ge=16)
    exclude_same_problem: bool = Field(
        True, description="recall leaves out records of this very problem (honest evaluation)"
    )
    # How recalled memory reaches the solver. These defaults apply to the small embedded model
    # (SmolLM2-135M), chosen on development streams (benchmarks/RESULTS.md, issue 11):
    # demonstrated turns teach it, quoted text does not, and a quoted failure with its lesson
    # hurts it. Larger models were not measured here; one that reads instructions well may gain
    # from show_failures / show_lessons: measure on a development stream before turning them on.
    exemplar_style: Literal["turns", "quoted"] = Field(
        "turns", description="verified exemplars as few-shot chat turns, or quoted in the memory section"
    )
    show_failures: bool = Field(False, description="quote recalled failures (with their lessons)")
    show_lessons: bool = Field(False, description="quote recalled lessons of other problems")
    show_concepts: bool = Field(True, description="quote distilled concepts")
    # The exemplar gate: what memory offers as a demonstration is stricter than what is accepted.
    gate_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="verifier score an accepted answer needs to become an "
        "exemplar (None: the acceptance threshold)",
    )
    gate_majority: bool = Field(
        True, description="an exemplar's answer must also be the most frequent answer of its trial's drafts"
    )

    @property
    def exemplar_threshold(self) -> float:
        """The verifier score the exemplar gate requires."""
        return self.threshold if self.gate_threshold is None else self.gate_threshold


SearchStrategy = Literal["beam", "dvts", "mcts"]


class SearchConfig(GraphConfig):
    """Verifier-guided step search (`search.py`): beam, diverse verifier tree search or MCTS.

    A step is one line of the solution. `max_rounds` counts search iterations:
    for beam and DVTS one step deeper per iteration, for MCTS one selection ->
    expansion -> backup. `n_drafts`, `revise_top` and `critique_from_verifier`
    are not used. The process verifier's step scores decide; `aggregation`
    turns a solution's step scores into its score (the partial solutions
    ranked, the finished ones compared for the answer). `threshold` only
    labels the result `accept`; the search does not stop early on it.
    """

    strategy: SearchStrategy = Field("beam", description="beam | dvts | mcts")
    beams: int = Field(
        4, ge=1, le=256, description="beam: partial solutions kept per step; dvts: total width "
        "(beams // expansions subtrees); mcts: not used",
    )
    expansions: int = Field(4, ge=1, le=64, description="children sampled per expanded node")
    max_rounds: int = Field(8, ge=1, le=1000, description="search iterations (see the class doc)")
    max_llm_calls: int | None = Field(
        512, ge=1, description="per problem: sequences generated or scored (None: no cap)"
    )
    max_depth: int = Field(12, ge=1, le=200, description="steps in a solution; deeper nodes stop")
    step_max_new_tokens: int = Field(
        32, ge=1, le=4096, description="tokens sampled per step; its first non-blank line is the step"
    )
    aggregation: Literal["last", "min", "prod"] = Field(
        "last", description="step scores -> one score: the last step's, the minimum or the product"
    )
    prune_below: float = Field(
        0.0, ge=0.0, le=1.0, description="a partial solution scoring at or below this is dropped"
    )
    exploration: float = Field(1.0, ge=0.0, le=100.0, description="mcts: the UCT exploration constant")
    rollout: bool = Field(
        False, description="mcts: roll the best new child out to the end; its value is the aggregated "
        "score of the rollout",
    )
    refine_below: float | None = Field(
        None, ge=0.0, le=1.0, description="mcts: critique and revise a selected node scoring below this "
        "once (LLaMA-Berry style self-refine); None: off",
    )

    @property
    def subtrees(self) -> int:
        """DVTS: the number of independent subtrees (`beams // expansions`, at least one)."""
        return max(1, self.beams // self.expansions)
