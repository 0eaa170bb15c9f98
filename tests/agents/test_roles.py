"""Role prompts and parsers: parsers never crash on junk, prompts never carry the gold answer."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from verbalrl.agents import (
    blind,
    critic_prompt,
    debater_prompt,
    parse_critique,
    parse_draft,
    parse_lesson,
    reflector_prompt,
    reviser_prompt,
    safe_extract,
    solver_prompt,
)
from verbalrl.agents.base import MAX_QUESTION_CHARS
from verbalrl.llm.fake import prompt_text
from verbalrl.memory.distill import parse_operations
from verbalrl.tasks import GeneratedProblem, GeneratedTask, Split, get_task

junk = st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")), st.none(), st.integers())


class Secret(GeneratedTask):
    name = "secret_roles"
    description = "gold is a marker"

    def generate(self, rng: random.Random, split: Split) -> GeneratedProblem:
        question = f"Box {rng.randint(1, 999)}?"
        return GeneratedProblem(question=question, answer="GOLD-55", meta={"m": "META-66"})


class Exploding(Secret):
    def extract_answer(self, text: str) -> str | None:
        raise RuntimeError("bad parser")


@settings(max_examples=200, deadline=None)
@given(text=junk)
def test_parsers_never_raise_on_junk(text) -> None:
    for task in (get_task("arithmetic", level=1), get_task("word_sort"), Exploding()):
        draft = parse_draft(task, text)
        assert draft.ok == (draft.answer is not None)
        assert draft.ok or draft.error
    assert parse_critique(text).text
    assert parse_lesson(text).text
    ops, skipped = parse_operations(text, 3)
    assert isinstance(ops, list) and isinstance(skipped, list)


def test_missing_answer_is_a_failed_draft() -> None:
    task = get_task("word_sort")
    assert parse_draft(task, "I cannot do this").error == "no answer found in the reply"
    assert parse_draft(task, "   ").error == "empty reply"
    assert parse_draft(task, "ok\nAnswer: a b c").answer == "a b c"
    assert safe_extract(Exploding(), "Answer: 3") is None


def test_lesson_takes_the_plan() -> None:
    assert parse_lesson("Blah.\nPlan: carry the one.").text == "carry the one."
    assert parse_lesson("").ok is False


def test_no_prompt_contains_the_gold_answer() -> None:
    task = Secret()
    problem = task.problems("test", n=1)[0]
    assert blind(problem).answer == "" and blind(problem).meta == {}
    prompts = [
        solver_prompt(task, problem, persona="p", memory_context="mem", lessons=["l1"]),
        critic_prompt(problem, "draft", 0.3),
        reviser_prompt(task, problem, "draft", "crit"),
        reflector_prompt(problem, "draft", 0.1),
        debater_prompt(task, problem, "mine", [("theirs", 0.4), ("other", None)], persona="p"),
    ]
    for p in prompts:
        text = prompt_text(p)
        assert problem.question in text
        assert "GOLD-55" not in text and "META-66" not in text


def test_huge_question_and_drafts_are_capped() -> None:
    task = get_task("arithmetic", level=1)
    problem = task.problems("test", n=1)[0].model_copy(update={"question": "x" * (MAX_QUESTION_CHARS * 3)})
    text = prompt_text(solver_prompt(task, problem))
    assert len(text) < MAX_QUESTION_CHARS + 1_000
    assert (
        len(prompt_text(reviser_prompt(task, problem, "d" * 100_000, "c" * 100_000)))
        < MAX_QUESTION_CHARS + 5_000
    )


def test_demonstrations_become_turns_before_the_question() -> None:
    task = get_task("arithmetic", level="sum30")
    problem = task.problems("test", n=1, seed=0)[0]
    demos = [
        {"question": "What is 3 + 4?", "solution": "3 + 4 = 7\nAnswer: 7"},
        {"question": "What is 5 + 6?", "solution": "5 + 6 = 11\nAnswer: 11"},
    ]
    messages = solver_prompt(task, problem, demonstrations=demos, lessons=["Add the ones first."])
    plain = task.prompt(problem)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0] == plain[0]
    # a demonstrated turn looks exactly like a real one: the task's own prompt for that question
    shown = problem.model_copy(update={"question": "What is 3 + 4?"})
    assert messages[1]["content"] == task.prompt(shown)[1]["content"]
    assert messages[2]["content"] == demos[0]["solution"] and messages[4]["content"] == demos[1]["solution"]
    assert messages[3]["content"].startswith("What is 5 + 6?")
    assert messages[-1]["content"].endswith(plain[1]["content"])
    assert "Add the ones first." in messages[-1]["content"]
    assert solver_prompt(task, problem, demonstrations=[]) == plain
