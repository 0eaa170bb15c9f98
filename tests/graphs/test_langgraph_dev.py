"""`langgraph dev` serves the four graphs from the repo's langgraph.json, offline on loopback.

The server loads the graphs through `verbalrl.graphs.platform` (model and
verifiers from the environment: here a tiny random Llama, the exact checker
and the chain task's step checker), and the LangGraph SDK runs and streams them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from verbalrl.graphs import initial_state
from verbalrl.tasks import get_task

pytest.importorskip("langgraph_api")
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_langgraph_dev_serves_the_graphs(smollm, tmp_path: Path) -> None:
    from langgraph_sdk import get_sync_client

    from ..tiny_model import save_tiny_llama

    # A 2048-token window: a random model's 256-token draft and 128-token critique do not fit a
    # revision prompt in the fixture's 512 (the run then fails with ContextLengthError).
    model_dir = save_tiny_llama(tmp_path / "tiny", smollm.tokenizer, context=2048)

    port = free_port()
    env = {
        **os.environ, "VERBALRL_MODEL": str(model_dir), "VERBALRL_VERIFIER": "checker",
        "VERBALRL_TASK": "chain", "VERBALRL_PRM": "step-checker",
        "VERBALRL_MEMORY": str(tmp_path / "mem"), "HF_HUB_OFFLINE": "1", "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    langgraph = Path(sys.executable).with_name("langgraph")
    cmd = [str(langgraph), "dev", "--no-browser", "--no-reload", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "langgraph dev exited"
            try:
                if httpx.get(url + "/ok", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "langgraph dev did not start"
            time.sleep(0.5)
        client = get_sync_client(url=url)
        assert sorted(a["graph_id"] for a in client.assistants.search()) == [
            "multi", "reflective", "search", "single"]  # fmt: skip
        problem = get_task("chain").problems("test", 1, seed=1)[0]
        out = client.runs.wait(None, "single", input=initial_state(problem))
        # a random model answers nothing useful: the graph drafts 4, then critiques and revises
        assert isinstance(out, dict) and out["path"][:2] == ["solve", "verify"]
        assert out["result"]["drafts"] >= 4 and out["path"][-1] == "finalize"
        events = [c.data["event"] for c in client.runs.stream(
            None, "reflective", input=initial_state(problem), stream_mode="custom")
            if c.event == "custom"]
        assert events[0] == "recalled" and "result" in events
        # The search graph, scored step by step: every node below the root is one sampled step.
        found = client.runs.wait(None, "search", input=initial_state(problem))
        nodes = found["nodes"]
        assert found["result"]["llm_calls"] == len(nodes) - 1 >= 4  # the root's 4 expansions at least
        assert found["result"]["generated_tokens"] == sum(n["tokens"] for n in nodes)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
