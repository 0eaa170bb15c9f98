"""Task lookup, registration of user tasks, and validation of `problems()` arguments."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from verbalrl.errors import TaskNotFoundError, VerbalRLError
from verbalrl.tasks import LastLetterTask, Task, available_tasks, get_task, register_task
from verbalrl.tasks import registry as registry_module

BUILT_INS = {"arithmetic", "chain", "gsm8k", "jsonl", "last_letter", "word_sort"}


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test disappear after it."""
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))


def test_built_ins_are_listed_with_one_line_descriptions() -> None:
    tasks = available_tasks()
    assert BUILT_INS <= set(tasks)
    assert list(tasks) == sorted(tasks)
    assert all(desc and "\n" not in desc for desc in tasks.values())


def test_unknown_task_lists_known_names_and_suggests_one() -> None:
    with pytest.raises(TaskNotFoundError) as info:
        get_task("last_leter")
    message = str(info.value)
    assert "'last_leter'" in message and "Did you mean 'last_letter'?" in message
    assert all(name in message for name in BUILT_INS)
    assert isinstance(info.value, VerbalRLError)


def test_names_ignore_case_and_dashes() -> None:
    assert isinstance(get_task("Last-Letter"), LastLetterTask)


def test_register_and_replace_a_user_task(clean_registry: None) -> None:
    register_task("mine", LastLetterTask, "My   task\n described.")
    assert available_tasks()["mine"] == "My task described."
    assert isinstance(get_task("mine", test_max_words=7), Task)
    with pytest.raises(ValueError, match="already registered"):
        register_task("mine", LastLetterTask, "again")
    register_task("mine", LastLetterTask, "replaced", replace=True)
    assert available_tasks()["mine"] == "replaced"


@pytest.mark.parametrize("bad", ["", "9lives", "has space", "dot.ted"])
def test_register_rejects_bad_names(clean_registry: None, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        register_task(bad, LastLetterTask, "x")


def test_register_rejects_non_callables(clean_registry: None) -> None:
    with pytest.raises(ValueError, match="callable"):
        register_task("nope", "not a factory", "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"split": "validation"}, "split"),
        ({"n": 0}, "n"),
        ({"n": -3}, "n"),
        ({"n": "many"}, "n"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_problem_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    task = get_task("word_sort")
    with pytest.raises(ValidationError, match=field) as info:
        task.problems(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)  # pydantic's error is a ValueError too
