"""A LangChain chat model drives the single agent; LangGraph streams its tokens and progress.

By default this starts `verbalrl serve` in this process (the embedded model on
a free loopback port) and points LangChain's `ChatOpenAI` at it, so it runs
offline. With `--base-url` it uses a server you started (`verbalrl serve`,
vLLM, or any OpenAI-compatible endpoint that returns logprobs):

    python examples/langchain_agent.py
    python examples/langchain_agent.py --base-url http://127.0.0.1:8000/v1 --model smol

The same `ChatOpenAI` is the agent's model and the GenRM verifier's model
(p(Yes) from its logprobs). That verifier is untrained: this shows the
mechanics (tokens per node, progress events), not the quality.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from langchain_openai import ChatOpenAI

from verbalrl import GenRMVerifier, SingleConfig, build_single_graph, get_task, initial_state, load_llm


@contextlib.contextmanager
def server_url(base_url: str | None) -> Iterator[str]:
    if base_url:
        yield base_url
        return
    from verbalrl.llm.server import serve_in_thread

    with serve_in_thread(load_llm("smollm2-135m-instruct"), model_name="smol") as srv:
        yield srv.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=None, help="a server to use (default: start one)")
    parser.add_argument("--model", default="smol")
    parser.add_argument("--n", type=int, default=2, help="drafts")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    task = get_task("arithmetic")
    problem = task.problems("test", n=1, seed=4)[0]
    with server_url(args.base_url) as url:
        chat = ChatOpenAI(model=args.model, base_url=url, api_key="unused", stream_usage=True, max_retries=1)
        # stream_usage: token counts (and token budgets) also when LangGraph makes the model stream
        llm = load_llm(chat)
        config = SingleConfig(n_drafts=args.n, max_rounds=1, max_new_tokens=args.max_new_tokens, seed=0)
        graph = build_single_graph(llm, GenRMVerifier(llm), config, task=task)
        print(f"question: {problem.question}  (UNTRAINED GenRM through {type(chat).__name__})")
        streamed: dict[str, int] = {}
        for mode, chunk in graph.stream(initial_state(problem), stream_mode=["messages", "custom"]):
            if mode == "messages":  # one streamed piece of a model reply, tagged with its node
                node = chunk[1]["langgraph_node"]
                streamed[node] = streamed.get(node, 0) + 1
            elif chunk["event"] == "scores":
                for d in chunk["drafts"]:
                    print(f"  draft {d['id']}: answer {d['answer']!r}  p(Yes) {d['score']:.3f}")
            elif chunk["event"] == "result":
                correct = task.check(problem, chunk["answer"])
                print(f"answer {chunk['answer']!r} ({chunk['status']}); correct: {correct}")
        print("streamed message chunks per node:", streamed)


if __name__ == "__main__":
    main()
