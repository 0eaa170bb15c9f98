"""Memory carries a lesson from one problem to a similar later one.

1. The solver gets "What is 15% of 80?" wrong (it divides by 10). The task's
   checker rejects it, a reflector writes the lesson, and memory stores the
   failure with its lesson.
2. Later, "What is 25% of 60?" arrives. `recall` finds the earlier failure by
   meaning (real all-MiniLM-L6-v2 embeddings, offline), the lesson goes into the
   prompt as fenced quoted data, and this time the answer is right; memory
   stores it as a verified exemplar.

The solver and reflector are scripted (`FakeLLM`) so the example runs in
seconds without a model download and the effect of memory is visible: the
solver answers right only when the lesson is in its prompt. Swap in a real
`LLM` from `verbalrl.llm` to run the same loop with a model.

    .venv/bin/python examples/memory_lesson.py [--path FOLDER]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from verbalrl.llm import FakeLLM, GenerationConfig, Prompt, prompt_text
from verbalrl.memory import ChromaMemory, Experience

TASK = "percent"
PROBLEM = re.compile(r"What is (\d+)% of (\d+)\?")


def scripted_solver(prompt: Prompt) -> str:
    """Divides by 10 (wrong) unless a lesson about percentages is in the prompt."""
    text = prompt_text(prompt)
    p, x = map(int, PROBLEM.findall(text)[-1])  # the current problem is the last one
    if "p/100" in text:
        return f"Using the lesson: {p}/100 * {x} = {p * x / 100:g}. Answer: {p * x / 100:g}"
    return f"{p}% of {x} is {x}/10 = {x / 10:g}. Answer: {x / 10:g}"


def scripted_reflector(prompt: Prompt) -> str:
    return "To take p% of x compute p/100 * x (15% of 80 is 12); do not just divide by 10."


def check(problem: str, answer: str) -> bool:
    p, x = map(int, PROBLEM.findall(problem)[-1])
    return answer.rsplit("Answer:", 1)[-1].strip() == f"{p * x / 100:g}"


def attempt(memory: ChromaMemory, solver: FakeLLM, reflector: FakeLLM, problem: str) -> bool:
    context = memory.recall(problem, task=TASK, k=2, exclude_problem=True)
    section = context.render()
    print(f"\n--- {problem}\nmemory section given to the solver:\n{section or '(empty)'}")
    prompt = (section + "\n\n" if section else "") + f"Problem: {problem}\nAnswer:"
    answer = solver.generate([prompt], GenerationConfig(temperature=0.0))[0][0].text
    ok = check(problem, answer)
    print(f"solver: {answer}\nchecker: {'correct' if ok else 'wrong'}")
    lesson = None
    if not ok:
        lesson = reflector.generate([f"Problem: {problem}\nWrong answer: {answer}\nLesson:"])[0][0].text
        print(f"reflection stored: {lesson}")
    memory.add_experience(
        Experience(
            task=TASK,
            problem=problem,
            solution=answer,
            outcome="success" if ok else "failure",
            verified=ok,
            checker_confirmed=ok,
            reflection=lesson,
            provenance={"model": solver.name, "graph": "example", "run": "memory_lesson"},
        )
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description="memory carries a lesson between problems")
    parser.add_argument("--path", type=Path, default=None, help="memory folder (default: a temp one)")
    args = parser.parse_args()
    folder = args.path or Path(tempfile.mkdtemp(prefix="verbalrl-memory-example-")) / "memory"
    solver = FakeLLM(scripted_solver, name="scripted-solver")
    reflector = FakeLLM(scripted_reflector, name="scripted-reflector")
    with ChromaMemory(folder) as memory:
        first = attempt(memory, solver, reflector, "What is 15% of 80?")
        later = attempt(memory, solver, reflector, "What is 25% of 60?")
        print(f"\nfirst problem solved: {first}; later similar problem solved: {later}")
        print(f"memory at {memory.location}: {memory.stats()['by_task']}")
        assert not first and later, "the lesson should have carried over"


if __name__ == "__main__":
    main()
