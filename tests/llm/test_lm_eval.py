"""lm-evaluation-harness against `verbalrl serve`, offline on loopback: the recipe in the README.

`lm_eval --model local-completions` with `tokenizer_backend=remote` (the
server's /tokenize and /tokenizer_info) runs a generation task and a
log-likelihood (multiple-choice) task from `examples/lm_eval/`; its
log-likelihoods must equal the model's own. `local-chat-completions`
against a served agent graph (`GraphLLM`) scores the agent's answers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verbalrl.graphs import SingleConfig, build_graph
from verbalrl.llm.fake import FakeLLM, prompt_text
from verbalrl.llm.server import serve_in_thread
from verbalrl.run.served_graph import GraphLLM
from verbalrl.tasks import get_task
from verbalrl.testing import score_by_answer

pytest.importorskip("lm_eval")
pytestmark = pytest.mark.slow

RECIPE = Path(__file__).resolve().parents[2] / "examples" / "lm_eval"


def run_lm_eval(
    tmp_path: Path, model: str, model_args: str, tasks: str, *extra: str
) -> dict[str, list[dict]]:
    """Run the `lm_eval` command from `tmp_path` (which holds the recipe), return samples per task."""
    shutil.copytree(RECIPE, tmp_path / "examples" / "lm_eval")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    lm_eval = Path(sys.executable).with_name("lm_eval")
    cmd = [str(lm_eval), "--model", model, "--model_args", model_args, "--tasks", tasks, "--limit", "4",
           "--include_path", "examples/lm_eval", "--output_path", "out", "--log_samples", *extra]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    samples: dict[str, list[dict]] = {}
    for path in (tmp_path / "out").rglob("samples_*.jsonl"):
        task = re.sub(r"^samples_(.*)_\d{4}-.*$", r"\1", path.stem)
        samples[task] = [json.loads(line) for line in path.read_text().splitlines()]
    return samples


def test_local_completions_generation_and_loglikelihood_match_the_model(smollm, tmp_path: Path) -> None:
    with serve_in_thread(smollm, model_name="smol") as srv:
        args = f"model=smol,base_url={srv.url}/completions,tokenizer_backend=remote,max_retries=1"
        samples = run_lm_eval(tmp_path, "local-completions", args, "verbalrl_arith_gen,verbalrl_arith_mc")
    assert len(samples["verbalrl_arith_gen"]) == 4 and len(samples["verbalrl_arith_mc"]) == 4
    # generation: the harness got the model's greedy reply, cut at its stop string
    first = samples["verbalrl_arith_gen"][0]
    context = first["arguments"]["gen_args_0"]["arg_0"]
    from verbalrl.llm.base import GenerationConfig

    expected = smollm.generate([context], GenerationConfig(temperature=0, max_new_tokens=16, stop=("\n",)))
    assert first["resps"][0][0] == expected[0][0].text
    # log-likelihood: each choice's sum of continuation logprobs is the model's own
    for sample in samples["verbalrl_arith_mc"][:2]:
        for i, resp in enumerate(sample["resps"]):
            args_i = sample["arguments"][f"gen_args_{i}"]
            context_ids = smollm.encode(args_i["arg_0"])
            whole = smollm.encode(args_i["arg_0"] + args_i["arg_1"])
            assert whole[: len(context_ids)] == context_ids
            entries = smollm.prompt_logprobs(whole, 0)[len(context_ids) :]
            assert float(resp[0][0]) == pytest.approx(sum(e.logprob for e in entries), abs=1e-3)


def test_an_agent_graph_served_behind_the_api_is_evaluated_by_lm_eval(tmp_path: Path) -> None:
    def solver(prompt) -> str:  # a scripted model that adds the two numbers of the question
        numbers = [int(n) for n in re.findall(r"(\d+) \+ (\d+)", prompt_text(prompt))[-1]]
        return f"{numbers[0]} + {numbers[1]} = {sum(numbers)}\nAnswer: {sum(numbers)}"

    task = get_task("arithmetic")
    config = SingleConfig(n_drafts=1, max_rounds=1)
    graph = build_graph("single", FakeLLM(solver), score_by_answer({}, default=0.9), config, task=task)
    with serve_in_thread(GraphLLM(graph, task, config), model_name="agent") as srv:
        args = f"model=agent,base_url={srv.url}/chat/completions,tokenizer_backend=none"
        samples = run_lm_eval(tmp_path, "local-chat-completions", args, "verbalrl_arith_gen",
                              "--apply_chat_template")
    rows = samples["verbalrl_arith_gen"]
    assert len(rows) == 4 and all(r["exact_match"] == 1.0 for r in rows)
    assert rows[0]["resps"][0][0] == rows[0]["target"]  # the reply is the agent's final answer
