"""`verbalrl run` and `verbalrl solve`: a graph over a task's problems, or over one question.

In scope: `register(app)`, which adds both commands to the main typer app;
building the model, verifier, memory and graph config from options; the live
node view of `solve`; the progress bar, summary table and resume of `run`
(the `Runner` does the work in this process; with `--ray`, `fanout.RayRunner`
on Ray workers that share a model server, a memory server and the
checkpoints: see docs/deployment.md). `--ray` is a flag and the cluster
address a separate `--ray-address`, because typer options cannot take an
optional value. Heavy imports happen inside the commands so
`verbalrl --help` stays instant. Errors a user can cause are raised as
`VerbalRLError`/`ValueError`; `verbalrl.cli.main` prints them as one line.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from ..errors import VerbalRLError
from .options import (
    BaseUrlOpt,
    DataOpt,
    DtypeOpt,
    JsonOpt,
    LevelOpt,
    ModelOpt,
    ProblemsOpt,
    TaskOpt,
    hidden_aliases,
    load_model,
    task_options,
)

if TYPE_CHECKING:
    from ..graphs import GraphConfig

console = Console()
err_console = Console(stderr=True)

GraphOpt = Annotated[str, typer.Option("--graph", "-g", help="single | multi | reflective")]
VerifierOpt = Annotated[
    str | None,
    typer.Option(
        help="trained GenRM folder, genrm-cot:PATH, 'checker' (oracle, experiments only) or "
        "'genrm' (untrained generator as judge: poor)"
    ),
]
MemoryOpt = Annotated[
    Path | None, typer.Option(help="memory folder (reflective graph); default $VERBALRL_HOME/memory")
]
# graph knobs (None: the graph's default)
DraftsOpt = Annotated[int | None, typer.Option("--n-drafts", help="drafts per solve step")]
RoundsOpt = Annotated[int | None, typer.Option("--max-rounds", help="rounds (trials for reflective)")]
ThresholdOpt = Annotated[float | None, typer.Option(help="accept when the verifier score reaches this")]
CallsOpt = Annotated[int | None, typer.Option("--max-llm-calls", help="per-problem budget of LLM calls")]
TokensOpt = Annotated[int | None, typer.Option("--max-tokens", help="per-problem budget of generated tokens")]
NewTokensOpt = Annotated[int | None, typer.Option("--max-new-tokens", help="tokens per solution")]
TempOpt = Annotated[float | None, typer.Option(help="sampling temperature")]
AgentsOpt = Annotated[int | None, typer.Option("--agents", help="multi graph: number of agents")]
NoMemoryOpt = Annotated[
    bool,
    typer.Option(
        "--no-memory",
        help="reflective graph without memory (Reflexion within each problem only): the ablation",
    ),
]
MemoryUrlOpt = Annotated[
    str | None,
    typer.Option(help="a `chroma run` server for memory, http://HOST:PORT (many processes share it)"),
]
CheckpointUrlOpt = Annotated[
    str | None,
    typer.Option(
        help="where checkpoints live: a SQLite file path or postgresql://USER@HOST/DB "
        "(default: checkpoints.sqlite in the run folder)"
    ),
]
KeepCheckpointsOpt = Annotated[
    bool,
    typer.Option(
        "--keep-checkpoints", help="keep finished problems' checkpoints (default: delete once written)"
    ),
]
RayOpt = Annotated[
    bool,
    typer.Option(
        "--ray",
        help="fan problems out to Ray workers (connects to RAY_ADDRESS or the local cluster, "
        "else starts one); needs --model openai:NAME --base-url, and --memory-url for memory",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(help="Ray cluster to use: auto, HOST:PORT or ray://HOST:PORT (implies --ray)"),
]
MaxInFlightOpt = Annotated[
    int | None,
    typer.Option(help="--ray: problems submitted and not yet written (default 2 x workers)"),
]
RetriesOpt = Annotated[int, typer.Option(help="--ray: times a failed problem is run again")]
FeedbackOpt = Annotated[
    bool,
    typer.Option(
        "--learn-from-feedback",
        help="let the task's checker confirm what memory stores (the loop still uses the verifier only)",
    ),
]


def open_memory(path: Path | None) -> Any:
    """A `ChromaMemory` at `path` (or the default folder); a folder in use raises a clear error."""
    from ..memory import ChromaMemory

    with err_console.status("opening memory ..."):
        return ChromaMemory(path) if path is not None else ChromaMemory()


def open_memory_url(url: str) -> Any:
    """A `ChromaMemory` on the `chroma run` server at `url` (tests replace this)."""
    from ..run.runner import open_run_memory

    with err_console.status(f"connecting to memory at {url} ..."):
        return open_run_memory(memory_url=url)


def _open_run_memory(memory: str | None, memory_url: str | None) -> Any:
    return open_memory_url(memory_url) if memory_url else open_memory(Path(memory) if memory else None)


def build_config(graph: str, **knobs: Any) -> GraphConfig:
    """The graph's config from the CLI knobs that were given."""
    from ..graphs import graph_config

    fields = {k: v for k, v in knobs.items() if v is not None}
    if "n_agents" in fields and graph != "multi":
        raise VerbalRLError("--agents applies to --graph multi only")
    if "use_memory" in fields and graph != "reflective":
        raise VerbalRLError("--no-memory applies to --graph reflective only")
    return graph_config(graph, **fields)


def _check_graph(graph: str) -> None:
    from ..graphs import GRAPHS

    if graph not in GRAPHS:
        raise VerbalRLError(f"unknown graph {graph!r}: choose one of {', '.join(GRAPHS)}")


def render_event(out: Console, node: str, update: dict[str, Any]) -> None:
    """One node's update in the live view: drafts with answers and scores, critiques, lessons, result."""
    from rich.markup import escape

    out.print(f"[bold cyan]▶ {node}[/]")
    if update.get("recalled") is not None and node == "recall":
        out.print(f"  recalled {update['recalled']} item(s) from memory")
    for d in update.get("drafts", []) or []:
        score = "unscored" if d.get("score") is None else f"score {d['score']:.3f}"
        answer = escape(str(d.get("answer"))) if d.get("ok") else f"[red]no answer[/] ({d.get('error')})"
        text = " ".join(str(d.get("text", "")).split())[:160]
        out.print(f"  \\[{d['id']}] answer={answer} {score}")
        if node != "verify" and text:
            out.print(f"     {escape(text)}", style="dim")
    for c in update.get("critiques", []) or []:
        out.print(f"  critique of {c['draft_id']} ({c['source']}): {escape(c['text'][:200])}")
    for lesson in update.get("lessons", []) or []:
        out.print(f"  lesson: {escape(lesson[:200])}")
    for e in update.get("errors", []) or []:
        out.print(f"  [red]{escape(e)}[/]")
    if update.get("result"):
        r = update["result"]
        out.print(
            f"[bold green]answer: {escape(str(r['answer']))}[/] (score {r['score']}, {r['status']}, "
            f"{r['rounds']} round(s), {r['llm_calls']} LLM calls, {r['generated_tokens']} tokens, "
            f"mode {r['mode']})",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add `run` and `solve` to the main app."""

    @app.command("run", cls=hidden_aliases("--n", "-n"))
    def run_cmd(
        graph: GraphOpt = "single",
        task: TaskOpt = "arithmetic",
        split: str = "test",
        problems: ProblemsOpt = 50,
        seed: Annotated[int, typer.Option(help="which problems (task sampling seed)")] = 0,
        level: LevelOpt = None,
        data: DataOpt = None,
        model: ModelOpt = "smollm2-135m-instruct",
        base_url: BaseUrlOpt = None,
        dtype: DtypeOpt = "auto",
        verifier: VerifierOpt = None,
        memory: MemoryOpt = None,
        memory_url: MemoryUrlOpt = None,
        output: Annotated[
            Path | None, typer.Option(help="results JSONL (default: in the run folder)")
        ] = None,
        baselines: Annotated[
            bool, typer.Option("--baselines", help="also run single-shot, self-consistency, best-of-N")
        ] = False,
        baseline_n: Annotated[
            int | None, typer.Option(help="N of the baselines (default --n-drafts)")
        ] = None,
        resume: Annotated[str | None, typer.Option("--resume", help="finish the run with this id")] = None,
        run_id: Annotated[str | None, typer.Option(help="name a new run (default: generated)")] = None,
        runs_dir: Annotated[
            Path | None, typer.Option(help="runs folder (default $VERBALRL_HOME/runs)")
        ] = None,
        checkpoint_url: CheckpointUrlOpt = None,
        keep_checkpoints: KeepCheckpointsOpt = False,
        use_ray: RayOpt = False,
        ray_address: RayAddressOpt = None,
        max_in_flight: MaxInFlightOpt = None,
        retries: RetriesOpt = 2,
        n_drafts: DraftsOpt = None,
        max_rounds: RoundsOpt = None,
        threshold: ThresholdOpt = None,
        max_llm_calls: CallsOpt = None,
        max_tokens: TokensOpt = None,
        max_new_tokens: NewTokensOpt = None,
        temperature: TempOpt = None,
        agents: AgentsOpt = None,
        learn_from_feedback: FeedbackOpt = False,
        no_memory: NoMemoryOpt = False,
        progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
        json_out: JsonOpt = False,
    ) -> None:
        """Run a graph over a task's problems: one JSONL line per problem, a summary, resumable.

        With --ray the problems fan out to Ray workers that share a model server
        (--model openai:NAME --base-url URL), a memory server (--memory-url) and the
        checkpoints (the run's SQLite file on one machine, --checkpoint-url postgresql://... on many).
        """
        from ..run.runner import Runner, load_verifier, read_spec, summary_table, uses_memory
        from ..run.runner import resume as resume_run

        use_ray = use_ray or ray_address is not None
        fan_out: dict[str, Any] = {"address": ray_address, "max_in_flight": max_in_flight, "retries": retries}
        if resume:
            spec = read_spec(resume, runs_dir)
            err_console.print(f"resuming run {resume} ({spec['graph']}, mode {spec['mode']})")
            if use_ray:
                from ..run.ray import resume_with_ray

                try:
                    report = resume_with_ray(
                        resume, runs_dir=runs_dir, progress=progress, console=err_console, **fan_out
                    )
                except KeyboardInterrupt:
                    raise VerbalRLError(
                        f"interrupted; finish with: verbalrl run --resume {resume} --ray"
                    ) from None
            else:
                llm = load_model(spec["model"], spec.get("base_url"), spec.get("dtype", "auto"))
                mem = (
                    _open_run_memory(spec.get("memory"), spec.get("memory_url"))
                    if uses_memory(spec["graph"], spec["config"])
                    else None
                )
                try:
                    report = resume_run(
                        resume, runs_dir=runs_dir, llm=llm, memory=mem, progress=progress, console=err_console
                    )
                except KeyboardInterrupt:
                    raise VerbalRLError(f"interrupted; finish with: verbalrl run --resume {resume}") from None
                finally:
                    if mem is not None:
                        mem.close()
        else:
            from ..graphs import GRAPHS
            from ..tasks import get_task

            if graph not in GRAPHS:
                raise VerbalRLError(f"unknown graph {graph!r}: choose one of {', '.join(GRAPHS)}")
            if verifier is None:
                from ..run.runner import verifier_help

                raise VerbalRLError(verifier_help())
            if memory is not None and memory_url is not None:
                raise VerbalRLError("give --memory (a folder) or --memory-url (a chroma server), not both")
            if use_ray and memory is not None:
                raise VerbalRLError(
                    "--ray cannot use a memory folder (it is locked to one process): start "
                    f"`chroma run --path {memory} --host 0.0.0.0 --port 8000` and pass "
                    "--memory-url http://HOST:8000"
                )
            config = build_config(
                graph,
                n_drafts=n_drafts,
                max_rounds=max_rounds,
                threshold=threshold,
                max_llm_calls=max_llm_calls,
                max_tokens=max_tokens,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                n_agents=agents,
                learn_from_feedback=learn_from_feedback or None,
                use_memory=False if no_memory else None,
            )
            options = task_options(level, data)
            the_task = get_task(task, **options)
            chosen = the_task.problems(split=split, n=problems, seed=seed)  # type: ignore[arg-type]
            if base_url is None and model.startswith("openai:"):
                base_url = os.environ.get("OPENAI_BASE_URL")  # recorded, so workers and resume need no env
            spec = {
                "task_options": options,
                "split": split,
                "n": problems,
                "seed": seed,
                "model": model,
                "base_url": base_url,
                "dtype": dtype,
                "verifier": verifier,
                "memory": str(memory.resolve()) if memory else None,
                "memory_url": memory_url,
            }
            common: dict[str, Any] = {
                "run_id": run_id,
                "output": output,
                "runs_dir": runs_dir,
                "baselines": baselines,
                "baseline_n": baseline_n,
                "checkpoint_url": checkpoint_url,
                "keep_checkpoints": keep_checkpoints,
                "progress": progress,
                "console": err_console,
                "spec": spec,
            }
            mem = None
            runner: Any
            if use_ray:
                from ..run.ray import RayRunner

                runner = RayRunner(
                    graph,
                    the_task,
                    config,
                    model=model,
                    base_url=base_url,
                    verifier=verifier,
                    memory_url=memory_url,
                    **fan_out,
                    **common,
                )
            else:
                llm = load_model(model, base_url, dtype)
                ver = load_verifier(verifier, llm, the_task)
                if uses_memory(graph, config):
                    mem = _open_run_memory(str(memory) if memory else None, memory_url)
                runner = Runner(graph, llm, ver, the_task, config, memory=mem, **common)
            resume_hint = f"verbalrl run --resume {runner.run_id}" + (" --ray" if use_ray else "")
            err_console.print(
                f"run {runner.run_id}: {graph} on {task} ({len(chosen)} problems, mode {config.mode}"
                + (", on Ray workers)" if use_ray else ")")
            )
            try:
                report = runner.run(chosen)
            except KeyboardInterrupt:
                raise VerbalRLError(f"interrupted; finish with: {resume_hint}") from None
            except Exception as exc:
                err_console.print(
                    f"[red]run {runner.run_id} stopped[/]; finished problems are in {runner.output}"
                )
                err_console.print(f"finish it with: {resume_hint}")
                raise exc
            finally:
                if mem is not None:
                    mem.close()
        if json_out:
            out = {k: report[k] for k in ("run_id", "output", "summary_path", "mode", "summary", "skipped")}
            print(json.dumps(out, indent=2))
            return
        console.print(
            summary_table(report["summary"], title=f"run {report['run_id']} (mode {report['mode']})")
        )
        console.print(f"results: {report['output']}\nsummary: {report['summary_path']}")

    @app.command("solve")
    def solve_cmd(
        question: Annotated[str, typer.Argument(help="the problem to solve")],
        graph: GraphOpt = "single",
        task: Annotated[str, typer.Option(help="task whose prompt and answer format to use")] = "arithmetic",
        level: LevelOpt = None,
        data: DataOpt = None,
        model: ModelOpt = "smollm2-135m-instruct",
        base_url: BaseUrlOpt = None,
        dtype: DtypeOpt = "auto",
        verifier: VerifierOpt = None,
        memory: MemoryOpt = None,
        n_drafts: DraftsOpt = None,
        max_rounds: RoundsOpt = None,
        threshold: ThresholdOpt = None,
        max_llm_calls: CallsOpt = None,
        max_tokens: TokensOpt = None,
        max_new_tokens: NewTokensOpt = None,
        temperature: TempOpt = None,
        agents: AgentsOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Solve one question with a live view of the nodes (drafts, scores, critiques, answer)."""
        from ..agents.base import MAX_QUESTION_CHARS
        from ..graphs import build_graph, graph_options, initial_state
        from ..run.runner import load_verifier, verifier_help
        from ..tasks import Problem, get_task

        _check_graph(graph)
        text = question.strip()
        if not text:
            raise VerbalRLError(
                "the question is empty: pass the problem text, e.g. verbalrl solve 'What is 2 + 3?'"
            )
        if len(text) > MAX_QUESTION_CHARS:
            raise VerbalRLError(
                f"the question has {len(text):,} characters; the limit is {MAX_QUESTION_CHARS:,} "
                "(a small model's context holds far less): shorten it"
            )
        if verifier is None:
            raise VerbalRLError(verifier_help())
        config = build_config(
            graph,
            n_drafts=n_drafts,
            max_rounds=max_rounds,
            threshold=threshold,
            max_llm_calls=max_llm_calls,
            max_tokens=max_tokens,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            n_agents=agents,
        )
        the_task = get_task(task, **task_options(level, data))
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        problem = Problem(id=f"question-{digest}", task=the_task.name, split="test", question=text, answer="")
        if verifier == "checker":
            raise VerbalRLError("'checker' needs a gold answer, which a free question does not have")
        llm = load_model(model, base_url, dtype)
        ver = load_verifier(verifier, llm, the_task)
        mem = open_memory(memory) if graph == "reflective" else None
        try:
            compiled = build_graph(graph, llm, ver, config, memory=mem, task=the_task)
            final: dict[str, Any] = {}
            out = err_console if json_out else console
            for update in compiled.stream(
                initial_state(problem), graph_options(config), stream_mode="updates"
            ):
                for node, data_ in update.items():
                    if isinstance(data_, dict):
                        render_event(out, node, data_)
                        if "result" in data_:
                            final = data_["result"]
        finally:
            if mem is not None:
                mem.close()
        if json_out:
            print(json.dumps({"question": text, "graph": graph, **final}, indent=2, ensure_ascii=False))
