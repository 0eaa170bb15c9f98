"""A tune: an Optuna study over agent specs, persisted so a killed search resumes where it stopped.

In scope: `TuneSettings` (what a tune searches and how it scores: the base
spec, the space, the dev split, the scoring, the compute objective, pruning;
it names the study, so the same settings find the same study again),
`open_study` (TPE, two objectives: accuracy up, LLM calls or generated
tokens per problem down; any Optuna storage URL, SQLite by default), `tune`
(runs the trials still missing, each a spec scored on the dev split) and
`TuneResult` (every trial, the Pareto front, the spec chosen for a budget;
`write` saves the chosen spec and the front). Left out: the space
(`space.py`), scoring one spec (`objective.py`), the plot (`plot.py`).

Resume: finished trials (complete or pruned) live in the storage; a tune
runs only `trials` minus those. A trial a killed process left running is
marked failed (Optuna's heartbeat: `fail_stale_trials`) and does not count.
A trial whose settings equal a finished trial's reuses its numbers instead
of running the same spec again (TPE proposes repeats in small spaces).
The model and verifier are loaded once and shared by all trials.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import VerbalRLError
from ..run.agent import AgentSpec, load_agent
from ..tasks.base import Task
from .objective import SCORING_NOTE, DevSplit, Evaluation, Scoring, TrainOnlyTask, chunk_size, dominated
from .objective import evaluate_spec as run_on_dev
from .pareto import Objective, TrialResult, choose, pareto_front, trial_results
from .space import SearchSpace, suggest

HEARTBEAT_S = 30  # a running trial's heartbeat; one silent for GRACE_S was left by a killed process
GRACE_S = 90


class TuneSettings(BaseModel):
    """What a tune searches (`base` varied over `space`) and how it scores trials on the dev split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: AgentSpec
    space: SearchSpace = SearchSpace()
    dev_n: int = Field(20, ge=1)
    pool_n: int = Field(0, ge=0, description="train problems set aside to bootstrap demonstrations from")
    seed: int = 0
    scoring: Scoring = "checker"
    objective: Objective = "calls"
    prune_fraction: float = Field(0.34, ge=0.0, lt=1.0, description="dev share run before the prune check")
    prune_margin: float = Field(0.25, ge=0.0, le=1.0, description="accuracy a finished trial must lead by")

    def study_name(self) -> str:
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:10]
        return f"tune-{self.base.task}-{digest}"


def default_storage(folder: str | Path) -> str:
    """`sqlite:///FOLDER/study.db` (the folder is made)."""
    path = Path(folder).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'study.db'}"


def open_study(settings: TuneSettings, storage: str, name: str | None = None, *, resume: bool = False) -> Any:
    """The Optuna study of `settings` in `storage` (made unless `resume`; `resume` needs it to exist)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = name or settings.study_name()
    with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna (since 2.9)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)
    existing = {s.study_name: s for s in optuna.study.get_all_study_summaries(rdb, include_best_trial=False)}
    if resume and name not in existing:
        raise VerbalRLError(
            f"no tune to resume: study {name!r} is not in {storage} (the same settings as before?)"
        )
    if not resume and name in existing and existing[name].n_trials:
        raise VerbalRLError(
            f"study {name!r} in {storage} already has {existing[name].n_trials} trials: pass --resume to "
            "continue it, or --study NAME / --storage URL for a new one"
        )
    sampler = optuna.samplers.TPESampler(seed=settings.seed, multivariate=True, n_startup_trials=5)
    study = optuna.create_study(
        storage=rdb, study_name=name, sampler=sampler, directions=["maximize", "minimize"],
        load_if_exists=True,
    )
    if "settings" not in study.user_attrs:
        study.set_user_attr("settings", settings.model_dump(mode="json"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return study


@dataclass
class TuneResult:
    """Every trial of the study, its Pareto front and the spec chosen for `budget_calls`."""

    study_name: str
    storage: str
    settings: TuneSettings
    results: list[TrialResult]
    budget_calls: float | None
    seconds: float = 0.0
    ran: int = 0  # trials run by this call (not reused from the storage)
    front: list[TrialResult] = field(init=False)
    chosen: TrialResult | None = field(init=False)

    def __post_init__(self) -> None:
        self.front = pareto_front(self.results, self.settings.objective)
        self.chosen = choose(self.results, self.budget_calls)

    @property
    def scoring_note(self) -> str:
        return SCORING_NOTE[self.settings.scoring]

    def finished(self) -> list[TrialResult]:
        return [r for r in self.results if r.state in ("complete", "pruned")]

    def chosen_spec(self) -> AgentSpec:
        if self.chosen is None or self.chosen.spec is None:
            budget = "" if self.budget_calls is None else f" within {self.budget_calls:g} calls per problem"
            raise VerbalRLError(f"no finished trial{budget}: raise --budget-calls or run more --trials")
        r, spec = self.chosen, self.chosen.spec
        note = (f"verbalrl tune {self.study_name} trial {r.number}: dev accuracy {r.accuracy:.3f} "
                f"({self.settings.scoring}), {r.calls:.2f} LLM calls and {r.tokens:.0f} tokens per problem")
        return spec.model_copy(update={"name": note})

    def write(self, out: str | Path) -> tuple[Path, Path]:
        """The chosen spec at `out` and the front (accuracy, compute, spec per entry) beside it as
        `<out stem>.front.json`; returns both paths."""
        target = self.chosen_spec().write(out)
        front_path = target.with_name(target.stem + ".front.json")
        rows = [
            {"trial": r.number, "accuracy": r.accuracy, "calls": r.calls, "tokens": r.tokens,
             "spec": r.spec.dump() if r.spec else None}
            for r in self.front
        ]  # fmt: skip
        front_path.write_text(json.dumps(
            {"study": self.study_name, "storage": self.storage, "scoring": self.scoring_note,
             "objective": self.settings.objective, "budget_calls": self.budget_calls, "front": rows},
            indent=2,
        ) + "\n", encoding="utf-8")  # fmt: skip
        return target, front_path


def _finished_evaluations(study: Any, scoring: Scoring) -> list[Evaluation]:
    out = []
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "COMPLETE" and "accuracy" in t.user_attrs:
            a = t.user_attrs
            out.append(Evaluation(a["accuracy"], a["calls"], a["tokens"], int(a["problems"]), scoring))
    return out


def _same_params_done(study: Any, trial: Any) -> Any:
    """A finished (complete or pruned) trial with the same settings, or None."""
    for t in study.get_trials(deepcopy=False):
        if t.number != trial.number and t.state.name in ("COMPLETE", "PRUNED") and t.params == trial.params:
            if "accuracy" in t.user_attrs:
                return t
    return None


def tune(
    settings: TuneSettings,
    *,
    trials: int = 20,
    budget_calls: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    resume: bool = False,
    llm: Any = None,
    verifier: Any = None,
    task: Task | None = None,
    on_trial: Callable[[list[TrialResult]], None] | None = None,
) -> TuneResult:
    """Run a tune until `trials` trials are finished (complete or pruned) in the study.

    `storage`: an Optuna storage URL (default `sqlite:///$PWD/study.db`); `llm`, `verifier`,
    `task`: given objects instead of the ones the base spec names (the task is wrapped so
    that only its train split can be read). `on_trial(results)` is called after each trial.
    """
    import optuna

    started = time.perf_counter()
    storage = storage or default_storage(Path.cwd())
    study = open_study(settings, storage, study_name, resume=resume)
    base = settings.base if verifier is not None else settings.base.resolved()
    from ..tasks.registry import get_task

    guarded = TrainOnlyTask(task or get_task(base.task, **base.task_options))
    split = DevSplit.of(guarded, settings.dev_n, settings.pool_n, settings.seed)
    done_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    finished = len(study.get_trials(deepcopy=False, states=done_states))
    todo = max(0, trials - finished)
    if todo:
        if llm is None:
            from ..run.spec import load_generator

            llm = load_generator(base.model, base.base_url, base.dtype)
        if verifier is None:
            from ..verifier.registry import load_verifier

            verifier = load_verifier(base.verifier or "", llm, guarded)  # type: ignore[arg-type]
    chunk = chunk_size(len(split.dev), settings.prune_fraction)
    margin = settings.prune_margin

    def objective(trial: Any) -> tuple[float, float]:
        spec = suggest(trial, base, settings.space)
        trial.set_user_attr("spec", json.dumps(spec.dump()))
        twin = _same_params_done(study, trial)
        if twin is not None:  # the same spec was scored (or pruned) already: reuse its numbers
            for key in ("accuracy", "calls", "tokens", "problems"):
                trial.set_user_attr(key, twin.user_attrs[key])
            trial.set_user_attr("reused_from", twin.number)
            if twin.state.name == "PRUNED":
                raise optuna.TrialPruned(f"as trial {twin.number}")
            return tuple(twin.values)  # type: ignore[return-value]
        agent = load_agent(spec, llm=llm, verifier=verifier, task=guarded)  # type: ignore[arg-type]
        finished_evals = _finished_evaluations(study, settings.scoring)
        evaluation, stopped = run_on_dev(
            agent, split.dev, settings.scoring, chunk=chunk,
            stop_after_chunk=lambda e: dominated(e, finished_evals, margin, settings.objective),
        )  # fmt: skip
        for key in ("accuracy", "calls", "tokens", "problems"):
            trial.set_user_attr(key, getattr(evaluation, key))
        if stopped:
            raise optuna.TrialPruned(f"dominated after {evaluation.problems} dev problems")
        return evaluation.accuracy, evaluation.cost(settings.objective)

    def report(study: Any, _trial: Any) -> None:
        if on_trial is not None:
            on_trial(trial_results(study))

    if todo:
        stop = optuna.study.MaxTrialsCallback(trials, states=done_states)
        study.optimize(objective, n_trials=todo, callbacks=[stop, report])
    return TuneResult(
        study_name=study.study_name, storage=storage, settings=settings, results=trial_results(study),
        budget_calls=budget_calls, seconds=time.perf_counter() - started, ran=todo,
    )  # fmt: skip
