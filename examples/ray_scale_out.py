"""Scale out on one machine: Ray workers sharing a model server and a memory server.

Starts, on 127.0.0.1, `verbalrl serve` (the embedded SmolLM2 behind an
OpenAI-compatible API: plays the part of `vllm serve`) and a `chroma run`
server (the shared memory), then a local Ray instance with 2 worker
processes, and runs the reflective graph over a stream of problems with one
Ray task per problem. The verifier is GenRM over the same server (first-token
logprobs). Results land in one JSONL in problem order; every record names the
worker that solved it. Everything started here is stopped at the end.

Point it at services you already run with --base-url / --memory-url.

    python examples/ray_scale_out.py [--problems 6] [--workers 2]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

MODEL = "smollm2-135m-instruct"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], health: str, log: Path, stack: ExitStack, timeout: float = 180) -> None:
    """Start a service, wait until `health` answers, and stop it when `stack` closes."""
    out = log.open("wb")
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    stack.callback(out.close)
    stack.callback(proc.wait, 30)
    stack.callback(proc.terminate)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(health, timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{command[0]} did not start:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="Ray CPUs = worker processes")
    parser.add_argument("--base-url", help="a running OpenAI-compatible server (default: start one)")
    parser.add_argument("--memory-url", help="a running `chroma run` server (default: start one)")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    import ray

    from verbalrl.graphs import ReflectiveConfig
    from verbalrl.run import RayRunner
    from verbalrl.tasks import get_task

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="verbalrl-ray-")))
        base_url, memory_url = args.base_url, args.memory_url
        if base_url is None:
            port = free_port()
            base_url = f"http://127.0.0.1:{port}/v1"
            command = [sys.executable, "-m", "verbalrl.cli", "serve", "--model", MODEL, "--port", str(port)]
            print(f"starting verbalrl serve on {base_url} ...", flush=True)
            start(command, f"http://127.0.0.1:{port}/health", tmp / "serve.log", stack)
        if memory_url is None:
            port = free_port()
            memory_url = f"http://127.0.0.1:{port}"
            chroma = str(Path(sys.executable).parent / "chroma")
            command = [chroma, "run", "--path", str(tmp / "chroma"), "--host", "127.0.0.1"]
            command += ["--port", str(port)]
            print(f"starting chroma run on {memory_url} ...", flush=True)
            start(command, f"{memory_url}/api/v2/heartbeat", tmp / "chroma.log", stack)
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        stack.callback(ray.shutdown)

        task = get_task("arithmetic", level="sum30")
        config = ReflectiveConfig(
            n_drafts=2, max_rounds=2, max_new_tokens=args.max_new_tokens, critic_max_new_tokens=32,
            temperature=0.8, seed=0, distill_every=0, recall_k=2,
        )
        runner = RayRunner(
            "reflective", task, config, model=f"openai:{MODEL}", base_url=base_url, verifier="genrm",
            memory_url=memory_url, max_in_flight=2 * args.workers, retries=2,
            runs_dir=tmp / "runs", progress=False,
        )
        report = runner.run(task.problems("test", n=args.problems, seed=5))

        print(f"\nrun {report['run_id']}: {len(report['records'])} problems, results in problem order:")
        for r in report["records"]:
            print(
                f"  {r['problem_id']}: answer {r['answer']!s:>5} correct {r['correct']!s:5} "
                f"score {r['score'] if r['score'] is None else round(r['score'], 2)!s:>5} "
                f"worker {r['worker']}"
            )
        workers = Counter(r["worker"] for r in report["records"])
        print(f"problems per worker: {dict(workers)}")
        for row in report["summary"]:
            print(
                f"{row['method']}: accuracy {row['accuracy']:.0%}, "
                f"{row['mean_llm_calls']:.1f} LLM calls / problem (mode {report['mode']})"
            )
        from verbalrl.memory import ChromaMemory

        host, port = memory_url.removeprefix("http://").rsplit(":", 1)
        with ChromaMemory(host=host, port=int(port)) as memory:
            print(f"shared memory after the run: {memory.stats()}")
        print("(GenRM here is the untrained generator judging itself: the mechanics, not the quality)")


if __name__ == "__main__":
    main()
