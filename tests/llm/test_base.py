"""Validation of requests at the edge: bad values name their field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from verbalrl.llm.base import (
    GenerationConfig,
    truncate_at_stop,
    validate_candidates,
    validate_prompts,
)


@pytest.mark.parametrize(
    ("field", "value"),
    [("n", 0), ("temperature", -0.1), ("top_p", 0.0), ("top_p", 1.5), ("max_new_tokens", 0)],
)
def test_invalid_generation_config_names_the_field(field, value):
    with pytest.raises(ValidationError) as info:
        GenerationConfig(**{field: value})
    assert info.value.errors()[0]["loc"] == (field,)


def test_generation_config_rejects_unknown_fields_and_empty_stop():
    with pytest.raises(ValidationError):
        GenerationConfig(temprature=0.5)  # a typo must not be silently ignored
    with pytest.raises(ValidationError):
        GenerationConfig(stop=("",))


def test_validate_prompts_messages():
    with pytest.raises(ValueError, match="empty"):
        validate_prompts([])
    with pytest.raises(ValueError, match="single string"):
        validate_prompts("hello")
    with pytest.raises(ValueError, match=r"prompts\[1\] is an empty string"):
        validate_prompts(["ok", ""])
    with pytest.raises(ValueError, match="role"):
        validate_prompts([[{"role": "robot", "content": "x"}]])
    ok = [[{"role": "user", "content": "hi"}], "raw"]
    assert validate_prompts(ok) == ok


def test_validate_candidates():
    assert validate_candidates(["Yes", "No"]) == ["Yes", "No"]
    for bad in ([], ["Yes", "Yes"], [""], "Yes"):
        with pytest.raises(ValueError):
            validate_candidates(bad)


def test_truncate_at_stop_takes_earliest():
    assert truncate_at_stop("a END b STOP c", ["STOP", "END"]) == ("a ", True)
    assert truncate_at_stop("abc", ["x"]) == ("abc", False)
