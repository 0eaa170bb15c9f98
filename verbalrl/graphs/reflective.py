"""Reflective agent (Reflexion + memory): recall → solve → verify → store; on rejection reflect and retry.

    START → recall → solve → verify ─accept→ store_success → finalize → END
                       ↑           ├─reject→ reflect → store_failure ─trials left→ solve
                       │           └─budget out→ store_failure ─────────────────→ finalize
                       └──────────────────────────────────────────────┘

Recall puts exemplars, failures with lessons, lessons and concepts from
memory in the solver's prompt; each retry also gets this problem's recent
lessons. Every stored experience counts toward `memory.maybe_distill`
(concepts distilled after every `distill_every`). Memory writes are
content-addressed upserts, so a step re-run after a resume stores nothing twice.

The verifier decides acceptance. The task's checker is consulted only in
`learn_from_feedback` mode, and only to set `checker_confirmed` on what is
stored (a success the checker rejects is kept as `unverified`, never offered
as an exemplar). In `verifier_only` mode `checker_confirmed` stays None.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from ..agents.reflector import parse_lesson, reflector_prompt
from ..agents.solver import solver_prompt
from ..llm.base import LLM
from ..llm.wrappers import CountingLLM
from ..tasks.base import Task
from ..verifier.base import Verifier
from .config import ReflectiveConfig
from .state import ReflectiveState
from .steps import (
    best_draft,
    budget_exhausted,
    clamp,
    decide,
    generation,
    new_draft,
    problem_of,
    resolve_task,
    result_record,
    sample,
    verify_update,
)

log = logging.getLogger(__name__)


def _run_of(run_config: RunnableConfig | None) -> str | None:
    thread = ((run_config or {}).get("configurable") or {}).get("thread_id")
    return str(thread).split("/")[0] if thread else None


def build_reflective_graph(
    llm: LLM,
    verifier: Verifier,
    memory: Any,  # None only with config.use_memory=False
    config: ReflectiveConfig | None = None,
    checkpointer: Any = None,
    *,
    task: Task | None = None,
) -> Any:
    """Compile the reflective graph; `memory` is a `verbalrl.memory.MemoryStore` (e.g. `ChromaMemory`).

    With `config.use_memory=False` (the no-memory ablation) `memory` may be None: recall and the
    store nodes still run (same node path) but read and write nothing; lessons stay in the state.
    """
    from ..memory import DistillConfig, Experience, Provenance

    config = config or ReflectiveConfig()
    if memory is None and config.use_memory:
        raise ValueError("memory is None but config.use_memory is True")
    distill_config = DistillConfig(max_new_tokens=config.distill_max_new_tokens)

    def recall(state: ReflectiveState) -> dict[str, Any]:
        problem = problem_of(state)
        the_task = resolve_task(task, problem)
        update: dict[str, Any] = {"path": ["recall"], "memory_context": "", "recalled": 0}
        if config.recall_k == 0 or not config.use_memory:
            return update
        try:
            context = memory.recall(
                problem.question,
                task=the_task.name,
                k=config.recall_k,
                exclude_problem=config.exclude_same_problem,
            )
        except Exception as exc:  # noqa: BLE001 - no memory is worse, not fatal
            log.warning("memory recall failed: %s", exc)
            return {**update, "errors": [f"recall error: {type(exc).__name__}: {exc}"]}
        found = (
            len(context.exemplars) + len(context.failures) + len(context.reflections) + len(context.concepts)
        )
        return {**update, "memory_context": context.render(), "recalled": found}

    def solve(state: ReflectiveState) -> dict[str, Any]:
        problem = problem_of(state)
        the_task = resolve_task(task, problem)
        trial = state.get("round", 0) + 1
        lessons = state.get("lessons", [])[-config.n_lessons :] if config.n_lessons else []
        prompt = solver_prompt(
            the_task, problem, memory_context=state.get("memory_context", ""), lessons=lessons
        )
        n, max_new = clamp(state, config, config.n_drafts, config.max_new_tokens)
        update: dict[str, Any] = {"round": trial, "path": ["solve"]}
        if n == 0:
            return update
        # trial 1 shares its seed with the other graphs' first solve and the baselines (paired samples)
        salt = f"{problem.id}/solve" if trial == 1 else f"{problem.id}/solve/{trial}"
        rows, usage = sample(llm, [prompt], generation(config, n, max_new, salt=salt))
        drafts = [
            new_draft(the_task, c, id=f"r{trial}-{i}", round=trial, agent=0, kind="draft")
            for i, c in enumerate(rows[0])
        ]
        return {**update, **usage, "drafts": drafts}

    def verify(state: ReflectiveState) -> dict[str, Any]:
        return {"path": ["verify"], **verify_update(verifier, problem_of(state), state.get("drafts", []))}

    def trial_best(state: ReflectiveState) -> dict[str, Any] | None:
        return best_draft([d for d in state.get("drafts", []) if d["round"] == state.get("round", 0)])

    def after_verify(
        state: ReflectiveState,
    ) -> Literal["store_success", "reflect", "store_failure", "finalize"]:
        best = trial_best(state)
        decision = decide(state, config, best["score"] if best else None)
        if decision == "accept":
            return "store_success"
        if decision == "verifier_error":
            return "finalize"  # nothing verified: nothing worth remembering
        if budget_exhausted(state, config) or clamp(state, config, 1, 1)[0] == 0:
            return "store_failure"
        return "reflect"  # also after the last trial: the lesson helps later problems

    def reflect(state: ReflectiveState) -> dict[str, Any]:
        problem = problem_of(state)
        best = trial_best(state)
        attempt = best["text"] if best else next((d["text"] for d in reversed(state.get("drafts", []))), "")
        score = best["score"] if best else 0.0
        _, max_new = clamp(state, config, 1, config.critic_max_new_tokens)
        gen = generation(config, 1, max_new, salt=f"{problem.id}/reflect/{state.get('round', 0)}")
        rows, usage = sample(llm, [reflector_prompt(problem, attempt, score)], gen)
        lesson = parse_lesson(rows[0][0].text)
        return {**usage, "path": ["reflect"], "lessons": [lesson.text]}

    def store(state: ReflectiveState, run_config: RunnableConfig | None, success: bool) -> dict[str, Any]:
        problem = problem_of(state)
        the_task = resolve_task(task, problem)
        trial = state.get("round", 0)
        best = trial_best(state)
        mine = [d for d in state.get("drafts", []) if d["round"] == trial]
        chosen = best or (mine[-1] if mine else None)
        if chosen is None or not config.use_memory:
            return {}
        confirmed = the_task.check(problem, chosen.get("answer")) if config.learn_from_feedback else None
        lessons = state.get("lessons", [])
        # Lessons are appended by reflect of this same trial, so the newest one is this attempt's.
        lesson = lessons[-1] if (not success and lessons and len(lessons) >= trial) else None
        experience = Experience(
            task=the_task.name,
            problem=problem.question,
            solution=chosen["text"] or "(empty reply)",
            outcome="success" if success else "failure",
            score=chosen.get("score"),
            verified=success,
            checker_confirmed=confirmed,
            reflection=lesson,
            provenance=Provenance(
                model=getattr(llm, "name", None), graph="reflective", run=_run_of(run_config)
            ),
        )
        update: dict[str, Any] = {}
        try:
            stored = memory.add_experience(experience)
            update["stored"] = [stored]
        except Exception as exc:  # noqa: BLE001 - a memory write failure keeps the answer
            log.warning("memory write failed: %s", exc)
            return {"errors": [f"memory write error: {type(exc).__name__}: {exc}"]}
        if config.distill_every and not budget_exhausted(state, config):
            counting = CountingLLM(llm)
            try:
                done = memory.maybe_distill(counting, the_task.name, config.distill_every, distill_config)
            except Exception as exc:  # noqa: BLE001
                log.warning("distillation failed: %s", exc)
                done = None
                update["errors"] = [f"distill error: {type(exc).__name__}: {exc}"]
            update.update(
                {
                    "llm_calls": counting.calls,
                    "generated_tokens": counting.tokens,
                    "distilled": int(done is not None),
                }
            )
        return update

    def store_success(state: ReflectiveState, config: RunnableConfig) -> dict[str, Any]:
        return {"path": ["store_success"], **store(state, config, True)}

    def store_failure(state: ReflectiveState, config: RunnableConfig) -> dict[str, Any]:
        return {"path": ["store_failure"], **store(state, config, False)}

    def after_failure(state: ReflectiveState) -> Literal["solve", "finalize"]:
        best = trial_best(state)
        return "solve" if decide(state, config, best["score"] if best else None) == "continue" else "finalize"

    def finalize(state: ReflectiveState) -> dict[str, Any]:
        best = best_draft(state.get("drafts", []))
        last = trial_best(state)
        score = best["score"] if best else None
        status = decide(state, config, last["score"] if last else None)
        if status == "continue":
            status = "budget"
        if status != "accept" and score is not None and score >= config.threshold:
            status = "accept"
        record = result_record(state, config, best["answer"] if best else None, score, status)
        record.update(
            stored=len(state.get("stored", [])),
            recalled=state.get("recalled", 0),
            lessons=len(state.get("lessons", [])),
            distilled=state.get("distilled", 0),
        )
        return {"path": ["finalize"], "result": record}

    graph = StateGraph(ReflectiveState)
    graph.add_node("recall", recall)
    graph.add_node("solve", solve)
    graph.add_node("verify", verify)
    graph.add_node("reflect", reflect)
    graph.add_node("store_success", store_success)
    graph.add_node("store_failure", store_failure)
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "recall")
    graph.add_edge("recall", "solve")
    graph.add_edge("solve", "verify")
    graph.add_conditional_edges("verify", after_verify)
    graph.add_edge("reflect", "store_failure")
    graph.add_conditional_edges("store_failure", after_failure)
    graph.add_edge("store_success", "finalize")
    graph.add_edge("finalize", END)
    return graph.compile(checkpointer=checkpointer, name="reflective")
