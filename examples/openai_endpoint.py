"""Use a model behind an OpenAI-compatible server: sample answers, then read p(Yes).

Start a server first, in another terminal:

    verbalrl serve --model smollm2-135m-instruct --port 8000
    # or, on a GPU machine:  vllm serve HuggingFaceTB/SmolLM2-135M-Instruct --port 8000

then run:

    python examples/openai_endpoint.py --model smollm2-135m-instruct
    python examples/openai_endpoint.py --base-url http://gpu-box:8000/v1 \\
        --model HuggingFaceTB/SmolLM2-135M-Instruct

The model name must be the one the server serves (`GET /v1/models` lists it).
A server that returns no logprobs (some Ollama or llama.cpp builds) still
generates; the p(Yes) step then says so instead of failing.
"""

from __future__ import annotations

import argparse

from verbalrl.errors import CapabilityError
from verbalrl.llm import GenerationConfig, OpenAILLM, Prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--api-key", default=None, help="only for servers that check it")
    parser.add_argument("-n", type=int, default=3, help="samples per prompt")
    args = parser.parse_args()

    question = "What is 7 + 5? Answer with the number only."
    chat: Prompt = [{"role": "user", "content": question}]
    with OpenAILLM(args.model, args.base_url, api_key=args.api_key, timeout=120) as llm:
        config = GenerationConfig(n=args.n, temperature=0.8, max_new_tokens=32, seed=0)
        samples = llm.generate([chat], config)[0]
        for i, c in enumerate(samples):
            print(f"sample {i}: {c.text!r} ({c.completion_tokens} tokens, {c.finish_reason})")

        # GenRM-style verdict: the probability that the next token is "Yes" / "No".
        verdict: Prompt = [
            {
                "role": "user",
                "content": f"{question}\nProposed answer: "
                f"{samples[0].text.strip()}\nIs the answer correct (Yes/No)?",
            }
        ]
        try:
            probs = llm.next_token_probs([verdict], ["Yes", "No"])[0]
        except CapabilityError as err:
            print(f"no next-token probabilities from this server: {err}")
            return
        print(f"p(Yes) = {probs['Yes']:.3f}   p(No) = {probs['No']:.3f}")


if __name__ == "__main__":
    main()
