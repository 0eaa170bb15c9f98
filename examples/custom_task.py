"""Add your own problem family to verbalrl: define it, register it, make problems, check answers.

Run: python examples/custom_task.py   (no model needed: the "model replies" are written out)

A task built on `GeneratedTask` only says how to make one random problem;
verbalrl gives it seed-deterministic problems, disjoint train/test splits,
a solver prompt, answer extraction and an exact checker.
"""

from __future__ import annotations

import random

from verbalrl.tasks import (
    COMMON_WORDS,
    GeneratedProblem,
    GeneratedTask,
    Problem,
    Split,
    get_task,
    register_task,
)

VOWELS = "aeiou"


class VowelCountTask(GeneratedTask):
    """How many vowels are in a word? Train on short words, test on long ones."""

    name = "vowel_count"
    description = "Count the vowels (a, e, i, o, u) in a word."
    answer_kind = "numeric"  # compare as numbers: "3", "3.0" and "three: 3" all count as 3
    answer_format = "Give the count as a single integer."

    def generate(self, rng: random.Random, split: Split) -> GeneratedProblem:
        # Only `rng` supplies randomness, so the same seed gives the same problems.
        short = [w for w in COMMON_WORDS if len(w) <= 5]
        long = [w for w in COMMON_WORDS if len(w) > 5]
        word = rng.choice(short if split == "train" else long)
        count = sum(letter in VOWELS for letter in word)
        return GeneratedProblem(
            question=f'How many vowels are in the word "{word}"?',
            answer=str(count),
            meta={"word": word},
        )

    def reference_solution(self, problem: Problem) -> str | None:
        word = problem.meta["word"]
        found = [letter for letter in word if letter in VOWELS]
        return (
            f"The letters of {word} are {', '.join(word)}.\n"
            f"The vowels among them are {', '.join(found) or 'none'}.\n"
            f"Answer: {len(found)}"
        )


def main() -> None:
    # replace=True lets this script run twice in one interpreter (e.g. a notebook).
    register_task("vowel_count", VowelCountTask, VowelCountTask.description, replace=True)
    task = get_task("vowel_count")

    train = task.problems("train", n=3, seed=0)
    test = task.problems("test", n=3, seed=0)
    print("train:", [p.question for p in train])
    print("test: ", [p.question for p in test])
    assert not {p.question for p in train} & {p.question for p in test}

    problem = test[0]
    print("\nprompt sent to a solver:")
    for message in task.prompt(problem):
        print(f"  [{message['role']}] {message['content']}")

    gold = int(problem.answer)
    replies = {
        "reference solution": task.reference_solution(problem) or "",
        "right, decorated": f"Counting carefully...\n**Answer:** {gold}.0",
        "wrong": f"I count them.\nAnswer: {gold + 1}",
        "no answer line": f"there might be {gold} vowels, or maybe {gold + 2}",
        "no answer at all": "I am not sure.",
    }
    print(f"\ngold answer: {problem.answer}")
    for label, reply in replies.items():
        answer = task.extract_answer(reply)
        verdict = "correct" if task.check(problem, answer) else "wrong"
        print(f"  {label:<20} extracted={answer!r:<8} -> {verdict}")

    solved = sum(task.check(p, task.extract_answer(task.reference_solution(p) or "")) for p in test)
    print(f"\nreference solutions checked correct: {solved}/{len(test)}")


if __name__ == "__main__":
    main()
