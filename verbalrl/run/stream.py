"""A learning stream: task families interleaved in a fixed order, each method solving it problem by problem.

    from verbalrl.run.stream import Family, GraphMethod, SampledMethods, interleave, run_stream

    stream = interleave([Family("sum30", sum30), Family("sort2", sort2)], per_family=50, seed=7)
    run_stream(stream, [SampledMethods(llm, verifier, config), GraphMethod(...)], "runs/stream")

Is an agent learning from its own experience? Give it problems of several
families one after another, from an empty memory, and compare it with methods
that cannot learn, on the same problems in the same order.

In scope: `Family` (a label and its task), `interleave` (round-robin order,
each item knowing its position in the stream and in its family), the methods
(`GraphMethod`: a graph with its own memory shared across families;
`SampledMethods`: single-shot and best-of-N from one draw; `FewShotMethod`:
fixed hand-picked demonstrations) and `run_stream` (one JSONL per method;
a problem already in the file is skipped, so a killed run resumes).
Left out: the analysis (`verbalrl.evaluation.learning`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..agents.base import safe_extract
from ..graphs import GraphConfig
from ..llm.base import LLM
from ..selection import BestOfN, Scored, score_candidates
from ..tasks.base import Problem, Split, Task
from ..verifier.base import Verifier
from .results import append_line, read_results


@dataclass(frozen=True)
class Family:
    """One family of the stream: a short label (what memory and the report call it) and its task."""

    label: str
    task: Task


# The families of the learning benchmark and the demo, at levels where the embedded 135M model gets
# some right once it is shown demonstrations (DESIGN.md / RESULTS.md, issue 11): the packaged
# `genrm-stream` verifier was trained on exactly these (see `verifier.artifact.PACKAGED_COVERS`).
STREAM_FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "sum30": ("arithmetic", {"level": "sum30"}),
    "sort2": ("word_sort", {"train_max_words": 2, "test_min_words": 2, "test_max_words": 2}),
    "last1": (
        "last_letter",
        {"train_min_words": 1, "train_max_words": 1, "test_min_words": 1, "test_max_words": 1},
    ),
}


def stream_families(labels: Sequence[str] | None = None) -> list[Family]:
    """The learning stream's families (`STREAM_FAMILIES`), all or those named by `labels`."""
    from ..tasks import get_task

    chosen = list(STREAM_FAMILIES) if labels is None else list(labels)
    unknown = [label for label in chosen if label not in STREAM_FAMILIES]
    if unknown:
        raise ValueError(f"unknown stream families {unknown}; known: {', '.join(STREAM_FAMILIES)}")
    return [
        Family(label, get_task(STREAM_FAMILIES[label][0], **STREAM_FAMILIES[label][1])) for label in chosen
    ]


@dataclass(frozen=True)
class StreamItem:
    """A problem at `position` in the stream, the `index`-th of its family."""

    position: int
    index: int
    family: Family
    problem: Problem


def interleave(
    families: Sequence[Family], per_family: int, *, split: Split = "test", seed: int = 0
) -> list[StreamItem]:
    """`per_family` problems of each family, taken in turn (f1, f2, f3, f1, ...): a fixed order."""
    if not families:
        raise ValueError("give at least one family")
    if len({f.label for f in families}) != len(families):
        raise ValueError("family labels must differ")
    lists = [f.task.problems(split, n=per_family, seed=seed) for f in families]
    items: list[StreamItem] = []
    for index in range(max(len(problems) for problems in lists)):
        for family, problems in zip(families, lists, strict=True):
            if index < len(problems):
                items.append(StreamItem(len(items), index, family, problems[index]))
    return items


class StreamMethod(Protocol):
    """Solves stream items one at a time, in order; writes one record per name in `names`."""

    names: tuple[str, ...]

    def solve(self, item: StreamItem) -> list[dict[str, Any]]:
        """One record per name (method, answer, correct, llm_calls, generated_tokens, ...)."""
        ...


def _record(
    method: str, item: StreamItem, answer: str | None, calls: int, tokens: int, **extra: Any
) -> dict[str, Any]:
    task = item.family.task
    return {
        "method": method,
        "answer": answer,
        "correct": task.check(item.problem, answer),
        "llm_calls": calls,
        "generated_tokens": tokens,
        **extra,
    }


@dataclass
class SampledMethods:
    """Single-shot and best-of-N (each N in `ns`) from one draw of max(ns) zero-shot samples.

    Best-of-N with N smaller than the draw uses its first N samples; the draw is
    scored once. Compute per method: its samples, plus N verifier calls for best-of-N.
    """

    llm: LLM
    verifier: Verifier
    config: GraphConfig
    ns: tuple[int, ...] = (4, 8)
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.names = ("single_shot", *(f"best_of_{n}" for n in self.ns))

    def solve(self, item: StreamItem) -> list[dict[str, Any]]:
        from ..agents.solver import solver_prompt
        from ..graphs.steps import generation

        task, problem = item.family.task, item.problem
        n_max = max(self.ns)
        gen = generation(self.config, n_max, self.config.max_new_tokens, salt=f"{problem.id}/solve")
        samples = self.llm.generate([solver_prompt(task, problem)], gen)[0]
        texts = [c.text for c in samples]
        answers = [safe_extract(task, t) for t in texts]
        tokens = [c.completion_tokens for c in samples]
        scoring = score_candidates(self.verifier, problem, texts)
        scores: list[float | None] = list(scoring.scores) if scoring.error is None else [None] * len(texts)
        out = [_record("single_shot", item, answers[0], 1, tokens[0])]
        for n in self.ns:
            choice = BestOfN(n=n).choose([Scored(a, s) for a, s in zip(answers[:n], scores[:n], strict=True)])
            out.append(
                _record(f"best_of_{n}", item, choice.answer, 2 * n, sum(tokens[:n]), score=choice.score)
            )
        return out


@dataclass
class FewShotMethod:
    """One sample after fixed demonstrations per family (a `Shot` list per label): hand-written examples."""

    llm: LLM
    config: GraphConfig
    shots: dict[str, Sequence[Any]]
    name: str = "static_few_shot"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,)

    def solve(self, item: StreamItem) -> list[dict[str, Any]]:
        from ..agents.solver import solver_prompt
        from ..graphs.steps import generation

        task, problem = item.family.task, item.problem
        prompt = solver_prompt(task, problem, demonstrations=self.shots.get(item.family.label, ()))
        gen = generation(self.config, 1, self.config.max_new_tokens, salt=f"{problem.id}/solve")
        row = self.llm.generate([prompt], gen)[0]
        return [_record(self.name, item, safe_extract(task, row[0].text), 1, row[0].completion_tokens)]


@dataclass
class GraphMethod:
    """A graph (e.g. reflective) solving each item with its family's task; one memory for all families."""

    name: str
    graph: str
    llm: LLM
    verifier: Verifier
    config: GraphConfig
    memory: Any = None
    _solvers: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,)

    def _solver(self, family: Family) -> Any:
        if family.label not in self._solvers:
            from langgraph.checkpoint.memory import InMemorySaver

            from .solver import ProblemSolver

            self._solvers[family.label] = ProblemSolver(
                self.graph, self.llm, self.verifier, family.task, self.config,
                run_id=f"stream-{self.name}", memory=self.memory, checkpointer=InMemorySaver(),
            )  # fmt: skip
        return self._solvers[family.label]

    def solve(self, item: StreamItem) -> list[dict[str, Any]]:
        line = next(iter(self._solver(item.family).records(item.problem))).to_line()
        keep = ("answer", "score", "correct", "llm_calls", "generated_tokens", "status", "rounds",
                "exemplar_stored", "demonstrations", "accepted")  # fmt: skip
        return [{"method": self.name, **{k: line[k] for k in keep if k in line}}]


def run_stream(
    stream: Sequence[StreamItem],
    methods: Sequence[StreamMethod],
    out_dir: str | Path,
    *,
    on_item: Callable[[str, StreamItem, list[dict[str, Any]]], None] | None = None,
) -> dict[str, Path]:
    """Run each method over the whole stream in order; `{name: JSONL path}` of every method's records.

    A record also holds the item's `problem_id`, `family`, `position`, `index`
    and `seconds`. An item already written for all of a method's names is
    skipped (resume). `on_item(method, item, records)` is called after each.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for method in methods:
        files = {name: folder / f"{name}.jsonl" for name in method.names}
        paths.update(files)
        done = [{r["problem_id"] for r in read_results(p)} if p.exists() else set() for p in files.values()]
        for item in stream:
            if all(item.problem.id in d for d in done):
                continue
            start = time.perf_counter()
            records = method.solve(item)
            seconds = round(time.perf_counter() - start, 3)
            for record in records:
                line = {**record, "problem_id": item.problem.id, "family": item.family.label,
                        "position": item.position, "index": item.index, "seconds": seconds}  # fmt: skip
                append_line(files[record["method"]], line)
            if on_item is not None:
                on_item(method.names[0], item, records)
    return paths
