"""The verifier registry: kinds, folders, packaged names, the default for a task, clear errors."""

from __future__ import annotations

import pytest

from verbalrl.errors import VerbalRLError
from verbalrl.tasks import get_task
from verbalrl.testing import registered_verifier
from verbalrl.verifier import (
    CheckerVerifier,
    FunctionVerifier,
    available_verifiers,
    default_verifier,
    load_verifier,
    register_verifier,
    unregister_verifier,
)


def test_a_registered_kind_gets_its_argument_and_the_context() -> None:
    seen = {}

    def loader(argument, context):  # type: ignore[no-untyped-def]
        seen.update(argument=argument, task=context.task, k=context.options.get("k"))
        return FunctionVerifier(lambda q, c: 0.5, name="mine")

    task = get_task("arithmetic", level=1)
    with registered_verifier("mine", loader):
        verifier = load_verifier("mine:some/arg:with:colons", task=task, k=8)
        assert verifier.name == "mine" and "mine" in available_verifiers()
    assert seen == {"argument": "some/arg:with:colons", "task": task, "k": 8}
    assert "mine" not in available_verifiers()  # unregistered when the block ends


def test_registering_twice_needs_replace_and_bad_kinds_are_refused() -> None:
    register_verifier("twice", lambda a, c: FunctionVerifier(lambda q, c: 0.1))
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_verifier("twice", lambda a, c: FunctionVerifier(lambda q, c: 0.2))
        register_verifier("twice", lambda a, c: FunctionVerifier(lambda q, c: 0.3), replace=True)
    finally:
        unregister_verifier("twice")
    for bad in ("", "a:b", " spaced "):
        with pytest.raises(ValueError, match="kind"):
            register_verifier(bad, lambda a, c: FunctionVerifier(lambda q, c: 0.1))


def test_builtin_kinds_and_clear_errors(tmp_path) -> None:
    task = get_task("arithmetic", level=1)
    assert isinstance(load_verifier("checker", task=task), CheckerVerifier)
    with pytest.raises(VerbalRLError, match="needs the task"):
        load_verifier("checker")
    with pytest.raises(VerbalRLError, match="choose a verifier"):
        load_verifier("   ")
    with pytest.raises(VerbalRLError, match="no such folder"):
        load_verifier(str(tmp_path / "missing"))
    with pytest.raises(VerbalRLError, match="no such folder"):
        load_verifier(f"genrm:{tmp_path / 'missing'}")
    with pytest.raises(VerbalRLError, match="orm:PATH"):
        load_verifier("orm")
    with pytest.raises(VerbalRLError, match="pass llm="):
        load_verifier("genrm")  # the untrained kind needs the generator model


def test_the_default_verifier_is_the_packaged_one_that_covers_the_task() -> None:
    assert default_verifier("arithmetic", {"level": "sum30"}) == "genrm-stream"
    options = {"test_min_words": 2, "test_max_words": 2, "train_max_words": 2}
    assert default_verifier("word_sort", options) == "genrm-stream"
    assert default_verifier("word_sort") is None  # 5 words by default: not trained on
    assert default_verifier("last_letter", {"test_min_words": "1", "test_max_words": "1"}) == "genrm-stream"
    assert default_verifier("arithmetic", {"level": 1}) is None  # trained on sum30 only
    assert default_verifier("arithmetic") is None
    assert default_verifier("gsm8k") is None
