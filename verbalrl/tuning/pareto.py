"""Reading a study: each trial as a `TrialResult`, the Pareto front, and the spec chosen for a budget.

In scope: `TrialResult` (a trial's spec, accuracy and compute per problem,
state), `trial_results(study)`, `pareto_front` (finished trials no other
finished trial beats on both accuracy and cost) and `choose` (the most
accurate finished trial whose calls per problem are within the budget; ties
go to the cheaper, then the earlier trial). Left out: running trials.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..run.agent import AgentSpec

Objective = Literal["calls", "tokens"]


@dataclass(frozen=True)
class TrialResult:
    """One trial: `state` is complete, pruned, failed or running; numbers are per dev problem."""

    number: int
    state: str
    spec: AgentSpec | None
    accuracy: float | None
    calls: float | None
    tokens: float | None
    problems: int
    params: dict[str, Any]
    reused_from: int | None = None  # an earlier trial with the same settings, whose numbers it took

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    def cost(self, objective: Objective) -> float:
        value = self.calls if objective == "calls" else self.tokens
        return float("inf") if value is None else value


def trial_results(study: Any) -> list[TrialResult]:
    """Every trial of an Optuna study, in order."""
    out = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        spec = AgentSpec.parse_data(json.loads(attrs["spec"])) if "spec" in attrs else None
        out.append(
            TrialResult(
                number=t.number, state=t.state.name.lower(), spec=spec, accuracy=attrs.get("accuracy"),
                calls=attrs.get("calls"), tokens=attrs.get("tokens"), problems=int(attrs.get("problems", 0)),
                params=dict(t.params), reused_from=attrs.get("reused_from"),
            )  # fmt: skip
        )
    return out


def pareto_front(results: Sequence[TrialResult], objective: Objective = "calls") -> list[TrialResult]:
    """Finished trials not dominated (higher-or-equal accuracy at lower-or-equal cost, one strictly),
    by cost; among equal points the earliest trial stands for them."""
    done = [r for r in results if r.complete and r.accuracy is not None]
    front = []
    for r in done:
        beaten = any(
            (o.accuracy or 0) >= (r.accuracy or 0) and o.cost(objective) <= r.cost(objective)
            and ((o.accuracy or 0) > (r.accuracy or 0) or o.cost(objective) < r.cost(objective)
                 or o.number < r.number)
            for o in done if o is not r
        )  # fmt: skip
        if not beaten:
            front.append(r)
    return sorted(front, key=lambda r: (r.cost(objective), -(r.accuracy or 0)))


def choose(results: Sequence[TrialResult], budget_calls: float | None = None) -> TrialResult | None:
    """The most accurate finished trial with at most `budget_calls` LLM calls per problem (None: any)."""
    fits = [
        r for r in results
        if r.complete and r.accuracy is not None and (budget_calls is None or r.cost("calls") <= budget_calls)
    ]  # fmt: skip
    if not fits:
        return None
    return min(fits, key=lambda r: (-(r.accuracy or 0), r.cost("calls"), r.number))
