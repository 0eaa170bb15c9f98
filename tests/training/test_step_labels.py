"""Step labels for the process verifier: from the step checker and from Monte-Carlo rollouts."""

from __future__ import annotations

import pytest

from verbalrl.evaluation.pool import CandidateRecord
from verbalrl.llm.base import GenerationConfig
from verbalrl.llm.fake import FakeLLM
from verbalrl.tasks import get_task
from verbalrl.training.step_labels import checker_step_examples, rollout_step_examples

RIGHT = "23 + 18 = 41\n41 - 7 = 34\n34 + 31 = 65\nAnswer: 65"
SLIP = "23 + 18 = 41\n41 - 7 = 35\n35 + 31 = 66\nAnswer: 66"


def record(text: str, index: int = 0) -> CandidateRecord:
    return CandidateRecord(
        problem_id="c-1", task="chain", split="train", question="Compute 23 + 18 - 7 + 31.", answer="65",
        candidate_index=index, text=text, extracted=None, correct=text.endswith("65"), prompt_tokens=1,
        completion_tokens=1, finish_reason="stop", generator="fake", temperature=0.8,
    )  # fmt: skip


def test_checker_labels_follow_the_step_checker() -> None:
    examples = checker_step_examples(get_task("chain"), [record(RIGHT), record(SLIP, 1), record("", 2)])
    assert [e.labels for e in examples] == [[1.0] * 4, [1.0, 0.0, 0.0, 0.0]]  # the empty one is skipped
    assert examples[1].steps[1] == "41 - 7 = 35" and {e.source for e in examples} == {"checker"}


def test_checker_labels_need_a_step_checker() -> None:
    with pytest.raises(ValueError, match="rollouts"):
        checker_step_examples(get_task("arithmetic"), [record(RIGHT)])


def test_rollouts_continue_every_prefix_in_one_call_and_count_right_answers() -> None:
    def reply(prompt) -> str:  # type: ignore[no-untyped-def]
        prefix = prompt[-1]["content"]
        return "Answer: 66" if "35" in prefix else "34 + 31 = 65\nAnswer: 65"

    fake = FakeLLM(reply)
    examples = rollout_step_examples(
        fake, get_task("chain"), [record(RIGHT), record(SLIP, 1)], k=2,
        config=GenerationConfig(temperature=0.8), progress=False,
    )  # fmt: skip
    # prefixes of 1..3 steps per record (the last step is labelled by the record's own answer)
    assert [e.labels for e in examples] == [[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    generate_calls = [c for c in fake.calls if c.method == "generate"]
    assert len(generate_calls) == 1 and len(generate_calls[0].prompts) == 6
    assert generate_calls[0].config is not None and generate_calls[0].config.n == 2
    first = generate_calls[0].prompts[0]
    assert first[-1] == {"role": "assistant", "content": "23 + 18 = 41\n"}
    assert all("65" not in m["content"] for m in first if m["role"] != "assistant")  # no gold in the prompt


@pytest.mark.parametrize(("mode", "expected"), [("soft", 1 / 3), ("hard", 1.0)])
def test_soft_labels_are_the_fraction_of_right_rollouts_and_hard_ones_any(mode: str, expected: float) -> None:
    fake = FakeLLM(["Answer: 65", "Answer: 3", "Answer: 3"])  # cycled: one right rollout in three
    examples = rollout_step_examples(
        fake, get_task("chain"), [record(RIGHT)], k=3, config=GenerationConfig(),
        mode=mode, prompts_per_call=1, progress=False,  # type: ignore[arg-type]
    )  # fmt: skip
    assert examples[0].labels[:3] == pytest.approx([expected] * 3) and examples[0].labels[3] == 1.0
    assert len([c for c in fake.calls if c.method == "generate"]) == 3  # one prefix per call


def test_rollouts_refuse_k_below_one() -> None:
    with pytest.raises(ValueError, match="k must be"):
        rollout_step_examples(FakeLLM(), get_task("chain"), [record(RIGHT)], k=0, config=GenerationConfig())
