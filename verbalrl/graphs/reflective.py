"""Reflective agent (Reflexion + memory): recall → solve → verify → store → distill; reflect and retry.

    START → recall → solve → verify ─accept────────────→ store_success ─┐
                       ↑           ├─reject→ reflect ─→ store_failure ─┼→ distill ─done→ finalize → END
                       │           ├─budget out──────→ store_failure ─┘      │
                       │           └─verifier error→ finalize → END          │
                       └───────────────────── trials left ───────────────────┘
    (store_failure is one node, drawn twice; distill follows every store step)

Recall gives the solver verified exemplars of similar problems as few-shot
chat turns (`exemplar_style="turns"`; or quoted, as before), plus a quoted
section of what is switched on (concepts; failures with lessons and other
problems' lessons are off by default: they hurt a small model); each retry
also gets this problem's recent lessons. What becomes an exemplar passes a
gate stricter than acceptance (`passes_gate`); the result says whether it did
(`exemplar_stored`), so a run can report the gate's precision. The reflect
node writes its lesson with the trial it belongs to (`LessonRecord`), and
store_failure stores the lesson of the current trial.
After every store step the distill node runs `memory.maybe_distill`, which
distils concepts after every `distill_every` stored experiences; its model
calls count toward the problem's compute. Memory writes are content-addressed
upserts, so a step re-run after a resume stores nothing twice.

The verifier decides acceptance. The task's checker is consulted only in
`learn_from_feedback` mode, and only to set `checker_confirmed` on what is
stored (a success the checker rejects is kept as `unverified`, never offered
as an exemplar). In `verifier_only` mode `checker_confirmed` stays None.

In scope: this graph's nodes and routers (module-level, each `(state, runtime)`)
and its factory. Left out: `verify` (shared: `nodes.py`), the memory itself
(`verbalrl.memory`), budgets and model calls.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from ..agents.reflector import parse_lesson, reflector_prompt
from ..agents.solver import solver_prompt
from ..llm.base import LLM
from ..llm.wrappers import CountingLLM
from ..memory.errors import MemoryUnavailableError
from ..selection import Scored, SelfConsistency
from ..tasks.base import Task
from ..verifier.base import Verifier
from .budget import budget_exhausted, clamp
from .config import ReflectiveConfig
from .context import GraphContext, bind_context, context_default, run_id_of, task_of
from .events import emit
from .nodes import best_draft, decide, final_status, finish, problem_of, result_record, verify
from .state import DraftRecord, LessonRecord, ReflectiveState
from .steps import drafted, generation, new_draft, sample

log = logging.getLogger(__name__)

ReflectiveRuntime = Runtime[GraphContext[ReflectiveConfig]]
ReflectiveGraph = CompiledStateGraph[ReflectiveState, GraphContext[Any], Any, ReflectiveState]


def trial_best(state: ReflectiveState) -> DraftRecord | None:
    """The best draft of the current trial (None when none has an answer)."""
    return best_draft([d for d in state.get("drafts", []) if d["round"] == state.get("round", 0)])


def recall(state: ReflectiveState, runtime: ReflectiveRuntime) -> dict[str, Any]:
    """What memory holds for problems like this one: demonstrations, and the quoted section."""
    ctx, config = runtime.context, runtime.context.config
    update: dict[str, Any] = {"path": ["recall"], "memory_context": "", "demonstrations": [], "recalled": 0}
    if config.recall_k == 0 or not config.use_memory or ctx.memory is None:
        return update
    problem = problem_of(state)
    k = config.recall_k
    try:
        # Only the sections this graph shows are recalled: each other one would cost a query.
        context = ctx.memory.recall(
            problem.question,
            task=task_of(ctx, problem).name,
            k=k,
            k_failures=k if config.show_failures else 0,
            k_reflections=k if config.show_lessons else 0,
            k_concepts=k if config.show_concepts else 0,
            exclude_problem=config.exclude_same_problem,
        )
    except Exception as exc:  # noqa: BLE001 - no memory is worse, not fatal
        log.warning("memory recall failed: %s", exc)
        return {**update, "errors": [f"recall error: {type(exc).__name__}: {exc}"]}
    turns = config.exemplar_style == "turns"
    demonstrations = [{"question": d.question, "solution": d.solution} for d in context.demonstrations()]
    shown = {
        "exemplars": not turns,
        "failures": config.show_failures,
        "reflections": config.show_lessons,
        "concepts": config.show_concepts,
    }
    found = sum(len(getattr(context, kind)) for kind, on in shown.items() if on)
    emit("recalled", demonstrations=len(demonstrations) if turns else 0, quoted=found)
    return {
        **update,
        "memory_context": context.render(**shown),
        "demonstrations": demonstrations if turns else [],
        "recalled": found + (len(demonstrations) if turns else 0),
    }


def solve(state: ReflectiveState, runtime: ReflectiveRuntime) -> dict[str, Any]:
    """One trial: `n_drafts` drafts from the recalled memory and this problem's recent lessons."""
    ctx, config = runtime.context, runtime.context.config
    problem = problem_of(state)
    task = task_of(ctx, problem)
    trial = state.get("round", 0) + 1
    lessons = state.get("lessons", [])[-config.n_lessons :] if config.n_lessons else []
    prompt = solver_prompt(
        task,
        problem,
        memory_context=state.get("memory_context", ""),
        lessons=lessons,
        demonstrations=state.get("demonstrations", []),
    )
    n, max_new = clamp(state, config, config.n_drafts, config.max_new_tokens)
    update: dict[str, Any] = {"round": trial, "path": ["solve"]}
    if n == 0:
        return update
    # trial 1 shares its seed with the other graphs' first solve and the baselines (paired samples)
    salt = f"{problem.id}/solve" if trial == 1 else f"{problem.id}/solve/{trial}"
    rows, usage = sample(ctx.llm, [prompt], generation(config, n, max_new, salt=salt))
    drafts = [
        new_draft(task, c, id=f"r{trial}-{i}", round=trial, agent=0, kind="draft")
        for i, c in enumerate(rows[0])
    ]
    drafted(drafts, trial)
    return {**update, **usage, "drafts": drafts}


def after_verify(
    state: ReflectiveState, runtime: ReflectiveRuntime
) -> Literal["store_success", "reflect", "store_failure", "finalize"]:
    config = runtime.context.config
    best = trial_best(state)
    decision = decide(state, config, best["score"] if best else None)
    if decision == "accept":
        return "store_success"
    if decision == "verifier_error":
        return "finalize"  # nothing verified: nothing worth remembering
    if budget_exhausted(state, config) or clamp(state, config, 1, 1)[0] == 0:
        return "store_failure"
    return "reflect"  # also after the last trial: the lesson helps later problems


def reflect(state: ReflectiveState, runtime: ReflectiveRuntime) -> dict[str, Any]:
    """A lesson from this trial's best attempt, recorded with the trial it belongs to."""
    ctx, config = runtime.context, runtime.context.config
    problem = problem_of(state)
    trial = state.get("round", 0)
    best = trial_best(state)
    attempt = best["text"] if best else next((d["text"] for d in reversed(state.get("drafts", []))), "")
    score = best["score"] if best else 0.0
    _, max_new = clamp(state, config, 1, config.critic_max_new_tokens)
    gen = generation(config, 1, max_new, salt=f"{problem.id}/reflect/{trial}")
    rows, usage = sample(ctx.llm, [reflector_prompt(problem, attempt, score)], gen)
    lesson = parse_lesson(rows[0][0].text)
    record: LessonRecord = {"trial": trial, "text": lesson.text, "ok": lesson.ok}
    emit("lesson", **record)
    return {**usage, "path": ["reflect"], "lessons": [lesson.text], "reflections": [record]}


def lesson_of_trial(state: ReflectiveState, trial: int) -> str | None:
    """The lesson reflect drew from `trial`; None when that trial was not reflected on (budget out)."""
    return next((r["text"] for r in reversed(state.get("reflections", [])) if r["trial"] == trial), None)


def passes_gate(state: ReflectiveState, config: ReflectiveConfig, chosen: DraftRecord) -> bool:
    """Whether an accepted answer may become a demonstration: the exemplar gate.

    Stricter than acceptance, because memory amplifies the verifier's mistakes (a wrong
    exemplar teaches every later problem): the score must reach `exemplar_threshold` and,
    with `gate_majority`, the answer must be the most frequent one among the trial's drafts.
    """
    score = chosen.get("score")
    if score is None or score < config.exemplar_threshold:
        return False
    if not config.gate_majority:
        return True
    trial = state.get("round", 0)
    answers = [d.get("answer") for d in state.get("drafts", []) if d["round"] == trial]
    majority = SelfConsistency().choose([Scored(a) for a in answers]).answer
    return majority is not None and majority == chosen.get("answer")


def store(state: ReflectiveState, runtime: ReflectiveRuntime, success: bool) -> dict[str, Any]:
    """Write this trial's attempt (its best draft, else its last) to memory as one experience."""
    from ..memory import Experience, Provenance

    ctx, config = runtime.context, runtime.context.config
    trial = state.get("round", 0)
    mine = [d for d in state.get("drafts", []) if d["round"] == trial]
    chosen = trial_best(state) or (mine[-1] if mine else None)
    if chosen is None or not config.use_memory or ctx.memory is None:
        return {"stored_now": False}
    problem = problem_of(state)
    task = task_of(ctx, problem)
    confirmed = task.check(problem, chosen.get("answer")) if config.learn_from_feedback else None
    # An accepted answer that fails the gate is stored as an unverified success: kept, never offered.
    gated = success and passes_gate(state, config, chosen)
    experience = Experience(
        task=task.name,
        problem=problem.question,
        solution=chosen["text"] or "(empty reply)",
        outcome="success" if success else "failure",
        score=chosen.get("score"),
        verified=gated,
        checker_confirmed=confirmed,
        reflection=None if success else lesson_of_trial(state, trial),
        provenance=Provenance(
            model=getattr(ctx.llm, "name", None), graph="reflective", run=run_id_of(runtime)
        ),
    )
    try:
        stored = ctx.memory.add_experience(experience)
    except Exception as exc:  # noqa: BLE001 - a memory write failure keeps the answer
        if isinstance(exc, MemoryUnavailableError):
            raise  # the server stayed down past its wait: stop the run (resumable), lose nothing
        log.warning("memory write failed: %s", exc)
        return {"errors": [f"memory write error: {type(exc).__name__}: {exc}"], "stored_now": False}
    emit("stored", id=stored, outcome=experience.outcome, status=experience.status)
    return {
        "stored": [stored],
        "stored_now": True,
        "exemplar_stored": experience.status == "exemplar",
    }


def store_success(state: ReflectiveState, runtime: ReflectiveRuntime) -> dict[str, Any]:
    return {"path": ["store_success"], **store(state, runtime, True)}


def store_failure(state: ReflectiveState, runtime: ReflectiveRuntime) -> dict[str, Any]:
    return {"path": ["store_failure"], **store(state, runtime, False)}


def distill(state: ReflectiveState, runtime: ReflectiveRuntime) -> dict[str, Any]:
    """Distil concepts when memory's schedule says so, after a store step that wrote; counts the compute.

    Runs after every store step (so the node path does not depend on the schedule, which
    `maybe_distill` keeps per process), and calls the model only when the step before it wrote an
    experience, distillation is on and the budget is not spent.
    """
    from ..memory import DistillConfig

    ctx, config = runtime.context, runtime.context.config
    update: dict[str, Any] = {"path": ["distill"]}
    if not (state.get("stored_now") and config.distill_every and ctx.memory is not None):
        return update
    if budget_exhausted(state, config):
        return update
    task = task_of(ctx, problem_of(state))
    counting = CountingLLM(ctx.llm)
    settings = DistillConfig(max_new_tokens=config.distill_max_new_tokens)
    try:
        done = ctx.memory.maybe_distill(counting, task.name, config.distill_every, settings)
    except Exception as exc:  # noqa: BLE001 - concepts are a bonus; the answer stands without them
        if isinstance(exc, MemoryUnavailableError):
            raise  # as in store: an outage stops the run instead of losing the write
        log.warning("distillation failed: %s", exc)
        done = None
        update["errors"] = [f"distill error: {type(exc).__name__}: {exc}"]
    emit("distilled", concepts=done is not None, calls=counting.calls)
    return {
        **update,
        "llm_calls": counting.calls,
        "generated_tokens": counting.tokens,
        "distilled": int(done is not None),
    }


def after_distill(state: ReflectiveState, runtime: ReflectiveRuntime) -> Literal["solve", "finalize"]:
    """Another trial while the verifier rejects and rounds and budget are left (after a success: done)."""
    best = trial_best(state)
    decision = decide(state, runtime.context.config, best["score"] if best else None)
    return "solve" if decision == "continue" else "finalize"


def finalize(state: ReflectiveState, runtime: ReflectiveRuntime) -> dict[str, Any]:
    """The best draft of all trials; accepted if the last trial was, or if any draft reached the threshold."""
    config = runtime.context.config
    best = best_draft(state.get("drafts", []))
    last = trial_best(state)
    score = best["score"] if best else None
    status = final_status(state, config, last["score"] if last else None)
    if status != "accept" and score is not None and score >= config.threshold:
        status = "accept"
    record = result_record(state, config, best["answer"] if best else None, score, status)
    record["stored"] = len(state.get("stored", []))
    record["recalled"] = state.get("recalled", 0)
    record["demonstrations"] = len(state.get("demonstrations", []))
    record["exemplar_stored"] = bool(state.get("exemplar_stored", False))
    record["lessons"] = len(state.get("lessons", []))
    record["distilled"] = state.get("distilled", 0)
    return finish(record)


def build_reflective_graph(
    llm: LLM,
    verifier: Verifier,
    memory: Any,  # None only with config.use_memory=False
    config: ReflectiveConfig | None = None,
    checkpointer: Any = None,
    *,
    task: Task | None = None,
) -> ReflectiveGraph:
    """Compile the reflective graph; `memory` is a `verbalrl.memory.MemoryStore` (e.g. `ChromaMemory`).

    With `config.use_memory=False` (the no-memory ablation) `memory` may be None: recall, the
    store nodes and distill still run (same node path) but read and write nothing; lessons stay
    in the state. The dependencies are bound as the default `GraphContext` of every run.
    """
    config = config or ReflectiveConfig()
    context = GraphContext(llm=llm, verifier=verifier, config=config, task=task, memory=memory)
    d = context_default(context)  # also when run as a subgraph of a user\'s graph
    graph = StateGraph(ReflectiveState, context_schema=GraphContext)
    graph.add_node("recall", d(recall))
    graph.add_node("solve", d(solve))
    graph.add_node("verify", d(verify))
    graph.add_node("reflect", d(reflect))
    graph.add_node("store_success", d(store_success))
    graph.add_node("store_failure", d(store_failure))
    graph.add_node("distill", d(distill))
    graph.add_node("finalize", d(finalize))
    graph.add_edge(START, "recall")
    graph.add_edge("recall", "solve")
    graph.add_edge("solve", "verify")
    graph.add_conditional_edges("verify", d(after_verify))
    graph.add_edge("reflect", "store_failure")
    graph.add_edge("store_success", "distill")
    graph.add_edge("store_failure", "distill")
    graph.add_conditional_edges("distill", d(after_distill))
    graph.add_edge("finalize", END)
    return bind_context(graph.compile(checkpointer=checkpointer, name="reflective"), context)
