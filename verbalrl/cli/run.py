"""`verbalrl run` and `verbalrl solve`: a graph over a task's problems, or over one question.

In scope: `register(app)`, which adds both commands to the main typer app;
turning options into a `RunSpec` (a new run) or reading one (`--resume`),
then building and running it with the library (`verbalrl.run.build`: a
`Runner` in this process; with `--ray`, a `RayRunner` on Ray workers that
share a model server, a memory server and the checkpoints: see
docs/deployment.md), and printing the summary; `solve` with the live node
view (`verbalrl.console`). The memory a command opens goes through
`open_memory` / `open_memory_url` (status line; the one seam tests replace). `--ray` is a flag and the cluster
address a separate `--ray-address`, because typer options cannot take an
optional value. Heavy imports happen inside the commands so
`verbalrl --help` stays instant. Errors a user can cause are raised as
`VerbalRLError`/`ValueError`; `verbalrl.cli.main` prints them as one line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import VerbalRLError
from .options import (
    BaseUrlOpt,
    DataOpt,
    DtypeOpt,
    JsonOpt,
    LevelOpt,
    ModelOpt,
    ProblemsOpt,
    SeedOpt,
    SplitOpt,
    TaskOpt,
    TaskOptionOpt,
    ThreadsOpt,
    console,
    err_console,
    hidden_aliases,
    load_model,
    task_options,
)

if TYPE_CHECKING:
    from ..graphs import GraphConfig
    from ..run import RayOptions, RunReport, RunSpec

GraphOpt = Annotated[str, typer.Option("--graph", "-g", help="single | multi | reflective | search")]
VerifierOpt = Annotated[
    str | None,
    typer.Option(
        help="trained GenRM folder, genrm-cot:PATH, 'checker' (oracle, experiments only) or "
        "'genrm' (untrained generator as judge: poor); --graph search: prm:PATH or 'step-checker' "
        "(oracle, experiments only)"
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
StrategyOpt = Annotated[str | None, typer.Option("--strategy", help="search graph: beam | dvts | mcts")]
BeamsOpt = Annotated[
    int | None,
    typer.Option("--beams", help="search: beams kept (beam); total width (dvts: beams/expansions subtrees)"),
]
ExpansionsOpt = Annotated[int | None, typer.Option("--expansions", help="search: steps sampled per node")]
DepthOpt = Annotated[int | None, typer.Option("--max-depth", help="search: steps in a solution at most")]
AggregationOpt = Annotated[
    str | None, typer.Option("--aggregation", help="search: step scores -> score: last | min | prod")
]
NoMemoryOpt = Annotated[
    bool,
    typer.Option(
        "--no-memory",
        help="reflective graph without memory (Reflexion within each problem only): the ablation",
    ),
]
StyleOpt = Annotated[
    str | None,
    typer.Option(
        "--exemplar-style", help="reflective: verified exemplars as few-shot 'turns' (default) or 'quoted'"
    ),
]
GateOpt = Annotated[
    float | None,
    typer.Option("--gate-threshold", help="reflective: score an exemplar needs (default: --threshold)"),
]
NoMajorityOpt = Annotated[
    bool,
    typer.Option("--no-gate-majority", help="reflective: exemplars need not be the drafts' majority answer"),
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
AgentOpt = Annotated[
    Path | None,
    typer.Option(
        "--agent",
        help="an agent spec (YAML or JSON: graph, config, model, verifier, task, instructions, "
        "demonstrations), e.g. from `verbalrl tune`; the options it fixes cannot be given too",
    ),
]
# What an agent spec fixes: `run --agent` refuses these when given on the command line.
AGENT_FIXES = (
    "graph", "task", "level", "data", "task_option", "model", "base_url", "dtype", "verifier", "memory",
    "n_drafts", "max_rounds", "threshold", "max_llm_calls", "max_tokens", "max_new_tokens", "temperature",
    "agents", "learn_from_feedback", "no_memory", "exemplar_style", "gate_threshold", "no_gate_majority",
)  # fmt: skip
FeedbackOpt = Annotated[
    bool,
    typer.Option(
        "--learn-from-feedback",
        help="let the task's checker confirm what memory stores (the loop still uses the verifier only)",
    ),
]


# The memory seam: tests and the reliability harness replace `open_memory` (a folder) and
# `open_memory_url` (a server), looked up at call time, to open memory with a test embedder.
def open_memory(path: Path | None) -> Any:
    """A `ChromaMemory` at `path` (or the default folder); a folder in use raises a clear error."""
    from ..memory import ChromaMemory

    with err_console.status("opening memory ..."):
        return ChromaMemory(path) if path is not None else ChromaMemory()


def open_memory_url(url: str) -> Any:
    """A `ChromaMemory` on the `chroma run` server at `url`."""
    from ..run.spec import open_run_memory

    with err_console.status(f"connecting to memory at {url} ..."):
        return open_run_memory(memory_url=url)


def _open_run_memory(memory: str | None, memory_url: str | None) -> Any:
    return open_memory_url(memory_url) if memory_url else open_memory(Path(memory) if memory else None)


def build_config(graph: str, **knobs: Any) -> GraphConfig:
    """The graph's config from the CLI knobs that were given."""
    from ..graphs import graph_config

    _check_graph(graph)
    fields = {k: v for k, v in knobs.items() if v is not None}
    if "n_agents" in fields and graph != "multi":
        raise VerbalRLError("--agents applies to --graph multi only")
    if "use_memory" in fields and graph != "reflective":
        raise VerbalRLError("--no-memory applies to --graph reflective only")
    search_knobs = {"strategy", "beams", "expansions", "max_depth", "aggregation"} & set(fields)
    if search_knobs and graph != "search":
        raise VerbalRLError(
            "--strategy, --beams, --expansions, --max-depth and --aggregation apply to --graph search only"
        )
    memory_knobs = {"exemplar_style", "gate_threshold", "gate_majority"} & set(fields)
    if memory_knobs and graph != "reflective":
        raise VerbalRLError(
            "--exemplar-style, --gate-threshold and --no-gate-majority apply to --graph reflective only"
        )
    return graph_config(graph, **fields)


def choose_verifier(
    verifier: str | None, task: str, options: dict[str, Any], graph: str = "single"
) -> str:
    """`--verifier` as given, else the packaged verifier that covers the task (said on stderr).

    The search graph needs a process verifier, and none is packaged: it must be named."""
    from ..verifier.registry import default_verifier, verifier_help

    if verifier is not None:
        return verifier
    if graph == "search":
        from ..graphs.search import NEEDS_PROCESS_VERIFIER

        raise VerbalRLError(NEEDS_PROCESS_VERIFIER)
    chosen = default_verifier(task, options)
    if chosen is None:
        raise VerbalRLError(verifier_help())
    err_console.print(f"verifier: {chosen} (packaged, trained on this task; --verifier to choose another)")
    return chosen


def _check_graph(graph: str) -> None:
    from ..graphs import GRAPHS

    if graph not in GRAPHS:
        raise VerbalRLError(f"unknown graph {graph!r}: choose one of {', '.join(GRAPHS)}")


def execute(
    spec: RunSpec, ray: RayOptions | None, *, runs_dir: Path | None, progress: bool, retry_wait: float = 0.0
) -> RunReport:
    """Run (or finish) the run `spec` describes: in this process, or on Ray workers with `ray`.

    `retry_wait`: how long an `openai:` model here waits for its server (Ray workers read
    `$VERBALRL_RETRY_WAIT`)."""
    from ..run import build_runner, run_memory

    task, problems = spec.load_problems()
    model, base_url = spec.model or "", spec.base_url
    llm = None if ray is not None else load_model(model, base_url, spec.dtype, retry_wait=retry_wait)
    hint = f"verbalrl run --resume {spec.run_id}" + (" --ray" if ray is not None else "")
    with run_memory(spec, opener=None if ray is not None else _open_run_memory) as memory:
        runner = build_runner(
            spec, task=task, llm=llm, memory=memory, ray=ray, runs_dir=runs_dir, progress=progress,
            console=err_console,
        )  # fmt: skip
        where = ", on Ray workers" if ray is not None else ""
        err_console.print(
            f"run {spec.run_id}: {spec.graph} on {spec.task} "
            f"({len(problems)} problems, mode {spec.mode}{where})"
        )
        try:
            return runner.run(problems)
        except KeyboardInterrupt:
            raise VerbalRLError(f"interrupted; finish with: {hint}") from None
        except Exception:
            err_console.print(f"[red]run {spec.run_id} stopped[/]; finished problems are in {runner.output}")
            err_console.print(f"finish it with: {hint}")
            raise


def print_report(report: RunReport, json_out: bool) -> None:
    """The summary of a finished run: a table and where the files are, or JSON."""
    from ..console import summary_table

    if json_out:
        out = {k: report[k] for k in ("run_id", "output", "summary_path", "mode", "summary", "skipped")}
        print(json.dumps(out, indent=2))
        return
    console.print(summary_table(report["summary"], title=f"run {report['run_id']} (mode {report['mode']})"))
    console.print(f"results: {report['output']}\nsummary: {report['summary_path']}")


def check_question(question: str) -> str:
    """The question of `solve`, stripped; an empty or overlong one is a clear error."""
    from ..agents.base import MAX_QUESTION_CHARS

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
    return text


def given_options(ctx: typer.Context, names: tuple[str, ...]) -> list[str]:
    """The options among `names` given on the command line (or by environment), as `--flag`s."""
    given = []
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name) if param.name else None
        # by name: typer vendors click, so its ParameterSource is not click's
        if param.name in names and getattr(source, "name", "DEFAULT") != "DEFAULT":
            given.append(param.opts[0] if param.opts else param.name)
    return given


def agent_run_spec(path: Path, ctx: typer.Context, **fields: Any) -> RunSpec:
    """The spec of a new run of the agent in file `path` (`fields`: split, n, seed, options, ...)."""
    from ..run import new_run_spec
    from ..run.agent import read_agent_spec

    clash = given_options(ctx, AGENT_FIXES)
    if clash:
        raise VerbalRLError(f"--agent fixes {', '.join(clash)}: edit the agent spec instead")
    agent = read_agent_spec(path)
    if agent.verifier is None:
        agent = agent.resolved()
        err_console.print(f"verifier: {agent.verifier} (packaged, trained on this task; set `verifier:` "
                          "in the spec to choose another)")
    return new_run_spec(agent=agent, **fields)


def run_cmd(
    ctx: typer.Context,
    agent: AgentOpt = None,
    graph: GraphOpt = "single",
    task: TaskOpt = "arithmetic",
    split: SplitOpt = "test",
    problems: ProblemsOpt = 50,
    seed: SeedOpt = 0,
    level: LevelOpt = None,
    data: DataOpt = None,
    task_option: TaskOptionOpt = None,
    model: ModelOpt = "smollm2-135m-instruct",
    base_url: BaseUrlOpt = None,
    dtype: DtypeOpt = "auto",
    verifier: VerifierOpt = None,
    memory: MemoryOpt = None,
    memory_url: MemoryUrlOpt = None,
    output: Annotated[Path | None, typer.Option(help="results JSONL (default: in the run folder)")] = None,
    baselines: Annotated[
        bool, typer.Option("--baselines", help="also run single-shot, self-consistency, best-of-N")
    ] = False,
    baseline_n: Annotated[int | None, typer.Option(help="N of the baselines (default --n-drafts)")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="finish the run with this id")] = None,
    run_id: Annotated[str | None, typer.Option(help="name a new run (default: generated)")] = None,
    runs_dir: Annotated[Path | None, typer.Option(help="runs folder (default $VERBALRL_HOME/runs)")] = None,
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
    strategy: StrategyOpt = None,
    beams: BeamsOpt = None,
    expansions: ExpansionsOpt = None,
    max_depth: DepthOpt = None,
    aggregation: AggregationOpt = None,
    learn_from_feedback: FeedbackOpt = False,
    no_memory: NoMemoryOpt = False,
    exemplar_style: StyleOpt = None,
    gate_threshold: GateOpt = None,
    no_gate_majority: NoMajorityOpt = False,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
    retry_wait: Annotated[
        float,
        typer.Option(
            envvar="VERBALRL_RETRY_WAIT",
            help="seconds an openai: model waits for its server to come back before the run stops "
            "(then --resume)",
        ),
    ] = 60.0,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a graph over a task's problems: one JSONL line per problem, a summary, resumable.

    --agent SPEC runs the agent a spec file describes (`verbalrl tune` writes one); every run
    records its agent spec in run.json, and --resume uses it.

    With --ray the problems fan out to Ray workers that share a model server
    (--model openai:NAME --base-url URL), a memory server (--memory-url) and the
    checkpoints (the run's SQLite file on one machine, --checkpoint-url postgresql://... on many).
    """
    from ..run import RayOptions, RunOptions, new_run_spec, read_spec

    if retry_wait < 0:
        raise VerbalRLError("--retry-wait must be >= 0 seconds")
    use_ray = use_ray or ray_address is not None
    ray = RayOptions(address=ray_address, max_in_flight=max_in_flight, retries=retries) if use_ray else None
    options = RunOptions(
        run_id=run_id, output=output, runs_dir=runs_dir, baselines=baselines, baseline_n=baseline_n,
        checkpoint_url=checkpoint_url, keep_checkpoints=keep_checkpoints,
    )  # fmt: skip
    if resume:
        if agent is not None:
            raise VerbalRLError("--resume continues a run with the agent it recorded: drop --agent")
        spec = read_spec(resume, runs_dir)
        err_console.print(f"resuming run {resume} ({spec.graph}, mode {spec.mode})")
    elif agent is not None:
        spec = agent_run_spec(
            agent, ctx, split=split, n=problems, seed=seed, memory_url=memory_url, options=options,
            ray=use_ray,
        )
    else:
        config = build_config(
            graph, n_drafts=n_drafts, max_rounds=max_rounds, threshold=threshold,
            max_llm_calls=max_llm_calls, max_tokens=max_tokens, max_new_tokens=max_new_tokens,
            temperature=temperature, n_agents=agents, learn_from_feedback=learn_from_feedback or None,
            use_memory=False if no_memory else None, exemplar_style=exemplar_style,
            gate_threshold=gate_threshold, gate_majority=False if no_gate_majority else None,
            strategy=strategy, beams=beams, expansions=expansions, max_depth=max_depth,
            aggregation=aggregation,
        )  # fmt: skip
        spec = new_run_spec(
            graph=graph, task=task, task_options=task_options(level, data, task_option), split=split,
            n=problems, seed=seed, model=model, base_url=base_url, dtype=dtype, memory=memory,
            verifier=choose_verifier(verifier, task, task_options(level, data, task_option), graph),
            memory_url=memory_url, config=config, options=options, ray=use_ray,
        )  # fmt: skip
    print_report(execute(spec, ray, runs_dir=runs_dir, progress=progress, retry_wait=retry_wait), json_out)


def solve_cmd(
    question: Annotated[str, typer.Argument(help="the problem to solve")],
    graph: GraphOpt = "single",
    task: Annotated[str, typer.Option(help="task whose prompt and answer format to use")] = "arithmetic",
    level: LevelOpt = None,
    data: DataOpt = None,
    task_option: TaskOptionOpt = None,
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
    strategy: StrategyOpt = None,
    beams: BeamsOpt = None,
    expansions: ExpansionsOpt = None,
    max_depth: DepthOpt = None,
    aggregation: AggregationOpt = None,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Solve one question with a live view of the nodes (drafts, scores, critiques, answer)."""
    from ..console import render_event
    from ..graphs import build_graph, graph_options, initial_state
    from ..tasks import Problem, get_task
    from ..verifier.registry import load_verifier

    _check_graph(graph)
    text = check_question(question)
    verifier = choose_verifier(verifier, task, task_options(level, data, task_option), graph)
    config = build_config(
        graph, n_drafts=n_drafts, max_rounds=max_rounds, threshold=threshold, max_llm_calls=max_llm_calls,
        max_tokens=max_tokens, max_new_tokens=max_new_tokens, temperature=temperature, n_agents=agents,
        strategy=strategy, beams=beams, expansions=expansions, max_depth=max_depth, aggregation=aggregation,
    )  # fmt: skip
    the_task = get_task(task, **task_options(level, data, task_option))
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    problem = Problem(id=f"question-{digest}", task=the_task.name, split="test", question=text, answer="")
    if verifier in ("checker", "step-checker"):
        raise VerbalRLError(f"{verifier!r} needs a gold answer, which a free question does not have")
    llm = load_model(model, base_url, dtype)
    ver = load_verifier(verifier, llm, the_task)
    mem = open_memory(memory) if graph == "reflective" else None
    try:
        compiled = build_graph(graph, llm, ver, config, memory=mem, task=the_task)
        final: dict[str, Any] = {}
        out = err_console if json_out else console
        for update in compiled.stream(initial_state(problem), graph_options(config), stream_mode="updates"):
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


def register(app: typer.Typer) -> None:
    """Add `run` and `solve` to the main app."""
    app.command("run", cls=hidden_aliases("--n", "-n"))(run_cmd)
    app.command("solve")(solve_cmd)
