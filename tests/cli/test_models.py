"""`verbalrl models`, `generate` and `serve` in process, with a registered fake backend."""

from __future__ import annotations

import json

import pytest

from verbalrl.llm.fake import FakeLLM
from verbalrl.testing import registered_backend

from .conftest import invoke


@pytest.fixture
def fake_backend():
    loaded: list[tuple[str, dict]] = []

    def load(model, **options):
        loaded.append((model, options))
        return FakeLLM(["4", "5"], name=model)

    with registered_backend("fake", load):
        yield loaded


def test_generate_with_a_registered_backend(fake_backend, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("What is 2 + 2?\n\nWhat is 2 + 3?\n")
    code, out = invoke("generate", "--model", "fake:toy", "--n", "2", "--file", prompts, "--json")
    assert code == 0, out
    payload = json.loads(out)
    assert [p["prompt"] for p in payload] == ["What is 2 + 2?", "What is 2 + 3?"]
    assert all(len(p["completions"]) == 2 for p in payload)
    assert fake_backend == [("toy", {"dtype": "auto"})]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--file", "no-such-file.txt"], "does not exist"),
        (["generate", "--model", "fake:toy", "--max-new-tokens", "0", "hi"], "max_new_tokens"),
        (["serve", "--model", "no-such-model"], "unknown model 'no-such-model'"),
    ],
)
def test_bad_input_exits_2_with_one_line(fake_backend, args, message):
    code, out = invoke(*args)
    assert code == 2, out
    assert message in out and out.startswith("error: ") and out.count("\n") == 1


def test_serve_graph_puts_the_agent_behind_the_api(monkeypatch):
    import httpx

    from verbalrl.llm import server as server_module
    from verbalrl.llm.server import serve_in_thread
    from verbalrl.run.served_graph import GraphLLM
    from verbalrl.testing import registered_verifier, score_by_answer

    served: dict = {}

    def capture(llm, **options):  # instead of serving forever: keep what would be served
        served.update(llm=llm, **options)

    monkeypatch.setattr(server_module, "serve", capture)
    def load(model, **options):
        return FakeLLM(["2 + 3 = 4\nAnswer: 4", "2 + 3 = 5\nAnswer: 5"], name=model)

    fives = registered_verifier("fives", lambda arg, context: score_by_answer({"5": 0.9}))
    with registered_backend("fake", load), fives:
        code, out = invoke(
            "serve", "--model", "fake:toy", "--graph", "single", "--verifier", "fives",
            "--task", "arithmetic", "--n-drafts", "2", "--max-rounds", "1", "--port", "0", "--max-batch", "4",
        )
    assert code == 0, out
    assert "serving the single agent on fake:toy as `single-agent`" in out
    agent = served["llm"]
    assert isinstance(agent, GraphLLM) and served["model_name"] == "single-agent" and served["max_rows"] == 4
    with serve_in_thread(agent, model_name="single-agent") as srv:
        body = {"messages": [{"role": "user", "content": "What is 2 + 3?"}], "n": 1}
        reply = httpx.post(srv.url + "/chat/completions", json=body, timeout=30).json()
        logprobs = httpx.post(srv.url + "/chat/completions", json={**body, "logprobs": True}, timeout=30)
    # two drafts, 4 then 5: the verifier prefers 5, and the agent replies with that answer
    assert reply["choices"][0]["message"]["content"] == "5"
    assert logprobs.status_code == 400 and "does not provide logprobs" in logprobs.json()["error"]["message"]


def test_graph_llm_replies_with_the_answer_or_the_chosen_solution():
    from verbalrl.graphs import SingleConfig, build_graph
    from verbalrl.run.served_graph import GraphLLM, question_of
    from verbalrl.tasks import get_task
    from verbalrl.testing import score_by_answer

    task, config = get_task("arithmetic"), SingleConfig(n_drafts=2, max_rounds=1)
    llm = FakeLLM(["2 + 3 = 4\nAnswer: 4", "2 + 3 = 5\nAnswer: 5"])
    graph = build_graph("single", llm, score_by_answer({"5": 0.9}), config, task=task)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 3?"}]
    assert question_of(chat) == "What is 2 + 3?"
    answer = GraphLLM(graph, task, config).generate([chat])[0][0]
    assert answer.text == "5" and answer.completion_tokens > 0
    solution = GraphLLM(graph, task, config, reply="solution").generate(["What is 2 + 3?"])[0][0]
    assert solution.text == "2 + 3 = 5\nAnswer: 5"
    with pytest.raises(ValueError, match="user message"):
        question_of([{"role": "system", "content": "x"}])


def test_generate_with_a_langchain_chat_model_named_on_the_command_line(tmp_path, monkeypatch):
    (tmp_path / "cli_chat_models.py").write_text(
        "from langchain_core.language_models.fake_chat_models import FakeListChatModel\n"
        "chat = FakeListChatModel(responses=['Answer: 4'])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out = invoke("generate", "--model", "langchain:cli_chat_models:chat", "--n", "2", "--json", "2+2?")
    assert code == 0, out
    payload = json.loads(out)
    assert [c["text"] for c in payload[0]["completions"]] == ["Answer: 4", "Answer: 4"]
