"""Agent specs: YAML/JSON round trip, validation naming the field, prompts reaching the model, runs
recording the spec and resumes using it. Real LangGraph graphs, a scripted model (`verbalrl.testing`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verbalrl.agents.roles import role_of
from verbalrl.errors import VerbalRLError
from verbalrl.graphs import MultiConfig, ReflectiveConfig, SingleConfig, initial_state
from verbalrl.llm.fake import FakeLLM
from verbalrl.run import read_spec, resume
from verbalrl.run.agent import AgentSpec, load_agent, read_agent_spec
from verbalrl.testing import failing, score_by_answer, scripted

INSTRUCTIONS = "You are AGENT-SEVEN. Add the numbers and end with `Answer: <n>`."
DEMOS = [
    {"question": "What is 1 + 1?", "solution": "1 + 1 = 2\nAnswer: 2"},
    {"question": "What is 2 + 5?", "solution": "2 + 5 = 7\nAnswer: 7"},
]


def full_spec(**fields) -> AgentSpec:
    data = {
        "name": "tuned adder",
        "graph": "multi",
        "config": {"n_agents": 2, "n_drafts": 2, "max_rounds": 2, "temperatures": [0.3, 0.9], "seed": 3},
        "model": "smollm2-135m-instruct",
        "verifier": "checker",
        "task": "arithmetic",
        "task_options": {"level": 1},
        "instructions": INSTRUCTIONS,
        "demonstrations": DEMOS,
        **fields,
    }
    return AgentSpec.parse_data(data)


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    spec = full_spec()
    path = spec.write(tmp_path / f"agent{suffix}")
    text = path.read_text()
    assert (text.lstrip().startswith("{")) == (suffix == ".json")
    back = read_agent_spec(path)
    assert back == spec
    assert isinstance(back.config, MultiConfig) and back.config.temperatures == (0.3, 0.9)
    assert back.demonstrations[1].solution == DEMOS[1]["solution"]
    assert back.write(tmp_path / f"again{suffix}").read_text() == text  # the text itself round-trips


def test_a_hand_written_partial_spec_takes_the_graphs_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("spec_version: 1\ngraph: reflective\ntask: word_sort\nconfig:\n  use_memory: false\n")
    spec = read_agent_spec(path)
    assert spec.config == ReflectiveConfig(use_memory=False)
    assert spec.model == "smollm2-135m-instruct" and spec.verifier is None and not spec.uses_memory()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"config": {"n_drafts": 2, "n_draftz": 3}}, "config.n_draftz: Extra inputs are not permitted"),
        ({"graph": "single", "config": {"n_agents": 2}}, "config.n_agents: Extra inputs are not permitted"),
        ({"config": {"n_drafts": 0}}, "config.n_drafts: Input should be greater than or equal to 1"),
        ({"graph": "tree"}, "graph: Input should be 'single', 'multi', 'reflective' or 'search'"),
        ({"spec_version": 2}, "spec_version: Input should be 1"),
        ({"demonstrations": [{"question": "q"}]}, "demonstrations.0.solution: Field required"),
    ],
)
def test_a_bad_spec_is_one_clear_error_naming_the_file_and_field(tmp_path: Path, change, named) -> None:
    data = {**full_spec().dump(), **change}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(VerbalRLError) as err:
        read_agent_spec(path)
    assert str(err.value) == f"{path}: invalid agent spec: {named}"


def test_unparseable_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("graph: [single\n")
    with pytest.raises(VerbalRLError, match=r"bad.yaml: not valid YAML"):
        read_agent_spec(bad)
    with pytest.raises(VerbalRLError, match=r"cannot read it"):
        read_agent_spec(tmp_path / "none.yaml")


def solver_prompts(llm: FakeLLM) -> list[list[dict]]:
    calls = [c for c in llm.calls if c.method == "generate"]
    return [p for call in calls for p in call.prompts if role_of(p) == "solver"]


@pytest.mark.parametrize(
    ("graph", "config"),
    [
        ("single", {"n_drafts": 2, "max_rounds": 1}),
        ("multi", {"n_agents": 2, "max_rounds": 1}),
        ("reflective", {"use_memory": False, "max_rounds": 1}),
    ],
)
def test_instructions_and_demonstrations_reach_the_solver_prompt(graph: str, config: dict) -> None:
    spec = full_spec(graph=graph, config=config)
    llm = FakeLLM(scripted({}, default="3 + 4 = 7\nAnswer: 7"))
    agent = load_agent(spec, llm=llm, verifier=score_by_answer({"7": 0.9}))
    result = agent.solve("What is 3 + 4?")
    assert result["answer"] == "7"
    prompts = solver_prompts(llm)
    assert prompts
    for messages in prompts:
        roles = [m["role"] for m in messages]
        assert roles == ["system", "user", "assistant", "user", "assistant", "user"], roles
        assert messages[0]["content"].startswith(INSTRUCTIONS)  # a multi persona may follow it
        assert "What is 1 + 1?" in messages[1]["content"] and messages[2]["content"] == DEMOS[0]["solution"]
        assert "What is 2 + 5?" in messages[3]["content"] and messages[4]["content"] == DEMOS[1]["solution"]
        assert "What is 3 + 4?" in messages[5]["content"]


def test_without_instructions_the_task_prompt_is_unchanged() -> None:
    config = {"n_drafts": 1, "max_rounds": 1}
    spec = full_spec(graph="single", config=config, instructions=None, demonstrations=[])
    llm = FakeLLM(scripted({}, default="Answer: 7"))
    agent = load_agent(spec, llm=llm, verifier=score_by_answer({"7": 0.9}))
    agent.solve("What is 3 + 4?")
    (messages,) = solver_prompts(llm)
    problem = agent.problem("What is 3 + 4?")
    assert messages == agent.task.prompt(problem) and agent.task is not None
    assert [m["role"] for m in messages] == ["system", "user"] and INSTRUCTIONS not in messages[0]["content"]


def test_a_run_records_the_spec_and_a_resume_prompts_with_it(tmp_path: Path) -> None:
    spec = full_spec(graph="single", config={"n_drafts": 1, "max_rounds": 1}, task_options={"level": 1})
    reply = scripted({}, default="Answer: 7")
    dying = FakeLLM(failing(reply, "solver", after=2))  # the third problem's solve call crashes
    agent = load_agent(spec, llm=dying, verifier=score_by_answer({"7": 0.9}))
    with pytest.raises(RuntimeError, match="injected crash"):
        agent.run(split="test", n=4, run_id="agent1", runs_dir=tmp_path, progress=False)

    recorded = read_spec("agent1", tmp_path)
    assert recorded.agent is not None
    assert AgentSpec.model_validate(recorded.agent) == spec
    assert recorded.model == spec.model and recorded.verifier == "checker" and recorded.n == 4

    fresh = FakeLLM(reply)
    report = resume("agent1", runs_dir=tmp_path, llm=fresh, progress=False)
    assert report["skipped"] == 2 and len(report["records"]) == 4
    prompts = solver_prompts(fresh)
    assert len(prompts) == 2  # only the two unfinished problems
    assert all(p[0]["content"] == INSTRUCTIONS and p[2]["content"] == DEMOS[0]["solution"] for p in prompts)


def test_load_agent_builds_the_named_verifier_and_checks_the_config_class() -> None:
    spec = full_spec(graph="single", config={"n_drafts": 1, "max_rounds": 1}, verifier="checker")
    agent = load_agent(spec, llm=FakeLLM(scripted({}, default="Answer: 2")))
    assert type(agent.verifier).__name__ == "CheckerVerifier"
    assert isinstance(agent.config, SingleConfig)
    with pytest.raises(VerbalRLError, match="config.threshold"):
        spec.replace(config={"threshold": 2.0})


def test_a_search_agent_from_a_spec_prompts_each_step_with_its_demonstrations(tmp_path: Path) -> None:
    spec = AgentSpec(
        graph="search", task="chain", task_options={"level": 2}, verifier="step-checker",
        config={"strategy": "beam", "beams": 1, "expansions": 1, "max_rounds": 4, "max_depth": 4},
        demonstrations=[{"question": "Compute 2 + 3 - 1.", "solution": "2 + 3 = 5\n5 - 1 = 4\nAnswer: 4"}],
    )  # fmt: skip
    path = spec.write(tmp_path / "search.yaml")
    assert read_agent_spec(path) == spec

    def reply(prompt) -> str:  # the reference chain, one line per call
        problem_lines = agent.task.reference_solution(problem).splitlines()  # type: ignore[union-attr]
        done = prompt[-1]["content"].count("\n") if prompt[-1]["role"] == "assistant" else 0
        return problem_lines[done]

    llm = FakeLLM(reply)
    agent = load_agent(path, llm=llm)
    problem = agent.task.problems("test", 1, seed=0)[0]
    result = agent.graph.invoke(initial_state(problem))["result"]
    assert result["answer"] == problem.answer and result["status"] == "accept"
    prompts = [c.prompts[0] for c in llm.calls if c.method == "generate"]
    assert len(prompts) == 3  # two operations and the answer line, one step per call
    assert all(p[2] == {"role": "assistant", "content": "2 + 3 = 5\n5 - 1 = 4\nAnswer: 4"} for p in prompts)


@pytest.mark.parametrize("name", ["sort2_tuned.yaml", "last1_tuned.yaml"])
def test_the_shipped_tuned_specs_load_and_demonstrate_right_answers(name: str) -> None:
    """examples/agents: specs written by `verbalrl tune` (benchmark 5) read back and run as written."""
    path = Path(__file__).resolve().parents[2] / "examples" / "agents" / name
    spec = read_agent_spec(path)
    assert spec.verifier == "genrm-stream" and spec.name and "dev accuracy" in spec.name
    llm = FakeLLM(scripted({}, default="Answer: x"))
    agent = load_agent(spec, llm=llm, verifier=score_by_answer({}))
    # The demonstrations were bootstrapped from the tune's train pool (seed 0), and each is right.
    train = {p.question: p for p in agent.task.problems("train", n=24, seed=0)}
    assert len(spec.demonstrations) == 4
    for demo in spec.demonstrations:
        problem = train[demo.question]
        assert agent.task.check(problem, agent.task.extract_answer(demo.solution)), demo.question
    agent.solve(agent.task.problems("test", n=1, seed=0)[0])
    messages = solver_prompts(llm)[0]
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 4 + ["user"]
