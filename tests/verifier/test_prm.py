"""The GenRM-style process verifier: every step read in one pass, equal to one pass per prefix."""

from __future__ import annotations

import pytest
import torch

from verbalrl.errors import CapabilityError
from verbalrl.llm.fake import FakeLLM
from verbalrl.tasks import Problem, get_task
from verbalrl.verifier import OutcomeFromProcess, load_verifier
from verbalrl.verifier.prm import PRMVerifier, encode_steps
from verbalrl.verifier.prompts import YES_TOKENS

QUESTION = "Compute 23 + 18 - 7 + 31."
PROBLEM = Problem(id="c-1", task="chain", split="test", question=QUESTION, answer="65")
RIGHT = "23 + 18 = 41\n41 - 7 = 34\n34 + 31 = 65\nAnswer: 65"
WRONG = "Let me add.\n23 + 18 = 40\n40 - 7 = 33\n\n33 + 31 = 64\nAnswer: 64"


@pytest.fixture(scope="module")
def prm(smollm) -> PRMVerifier:
    return PRMVerifier(smollm)


def prefix_yes(llm, ids: list[int]) -> float:
    """p(Yes) at the end of `ids` from a plain full forward pass of the causal LM (the reference)."""
    yes = [llm.candidate_token_id(t) for t in YES_TOKENS]
    with torch.inference_mode():
        logits = llm.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    return float(logits.softmax(-1)[yes].sum())


def test_one_pass_equals_one_pass_per_prefix(prm: PRMVerifier, smollm) -> None:
    scores = prm.score_steps(PROBLEM, [RIGHT, WRONG])
    assert [len(s) for s in scores.scores] == [4, 5]  # non-blank lines
    for text, row in zip([RIGHT, WRONG], scores.scores, strict=True):
        steps = [line.strip() for line in text.splitlines() if line.strip()]
        encoded = encode_steps(smollm, QUESTION, steps, 4096)
        reference = [prefix_yes(smollm, encoded.ids[: pos + 1]) for pos in encoded.positions]
        assert row == pytest.approx(reference, abs=2e-4)
        # a prefix's score does not depend on what follows it (causal): re-encode step by step
        for k in range(1, len(steps) + 1):
            alone = encode_steps(smollm, QUESTION, steps[:k], 4096)
            assert alone.ids == encoded.ids[: encoded.positions[k - 1] + 1]


def test_scores_do_not_depend_on_batch_mates_or_padding(prm: PRMVerifier) -> None:
    alone = prm.score_steps(PROBLEM, [RIGHT]).scores[0]
    crowded = prm.score_steps(PROBLEM, ["x", WRONG * 3, RIGHT, "Answer: 1"]).scores[2]
    assert crowded == pytest.approx(alone, abs=2e-4)


def test_many_problems_in_one_call_match_one_at_a_time(prm: PRMVerifier) -> None:
    other = PROBLEM.model_copy(update={"id": "c-2", "question": "Compute 5 + 4."})
    together = prm.score_steps_many([(PROBLEM, [RIGHT, WRONG]), (other, ["5 + 4 = 9\nAnswer: 9"])])
    first = prm.score_steps(PROBLEM, [RIGHT, WRONG]).scores
    alone = prm.score_steps(other, ["5 + 4 = 9\nAnswer: 9"]).scores
    for got, want in zip(together[0].scores + together[1].scores, first + alone, strict=True):
        assert got == pytest.approx(want, abs=2e-4)
    assert together[0].usage.llm_calls == 2 and together[1].usage.llm_calls == 1
    assert together[0].usage.prompt_tokens > together[1].usage.prompt_tokens > 0


def test_an_empty_candidate_has_no_steps_and_aggregates_to_zero(prm: PRMVerifier) -> None:
    scores = prm.score_steps(PROBLEM, ["", "  \n ", RIGHT])
    assert scores.scores[:2] == [[], []] and len(scores.scores[2]) == 4
    assert prm.verify(PROBLEM, ["", RIGHT]).scores[0] == 0.0


def test_steps_past_the_token_limit_get_the_last_read_score(smollm) -> None:
    full = PRMVerifier(smollm).score_steps(PROBLEM, [RIGHT]).scores[0]
    head = len(encode_steps(smollm, QUESTION, [], 4096).ids)
    two = len(encode_steps(smollm, QUESTION, RIGHT.splitlines()[:2], 4096).ids)
    short = PRMVerifier(smollm, max_tokens=two + 1)
    assert head < two
    cut = short.score_steps(PROBLEM, [RIGHT]).scores[0]
    assert cut[:2] == pytest.approx(full[:2], abs=2e-4) and cut[2:] == [cut[1], cut[1]]


def test_aggregations_and_the_outcome_view(prm: PRMVerifier) -> None:
    steps = prm.score_steps(PROBLEM, [RIGHT]).scores[0]
    product = float(torch.tensor(steps).prod())
    for how, expected in (("last", steps[-1]), ("min", min(steps)), ("prod", product)):
        verifier = PRMVerifier(prm.llm, how=how)  # type: ignore[arg-type]
        assert verifier.verify(PROBLEM, [RIGHT]).scores[0] == pytest.approx(expected, rel=1e-5)
        outcome = OutcomeFromProcess(prm, how)  # type: ignore[arg-type]
        assert outcome.verify(PROBLEM, [RIGHT]).scores[0] == pytest.approx(expected, rel=1e-5)
        assert outcome.verify(PROBLEM, [RIGHT]).details[0]["step_scores"] == pytest.approx(steps)


def test_refusals() -> None:
    with pytest.raises(CapabilityError, match="transformers model"):
        PRMVerifier(FakeLLM(probs={"Yes": 1.0}))
    with pytest.raises(ValueError, match="aggregation"):
        OutcomeFromProcess(PRMVerifier.__new__(PRMVerifier), "mean")  # type: ignore[arg-type]


def test_load_verifier_kinds(smollm) -> None:
    untrained = load_verifier("prm", llm=smollm)
    assert isinstance(untrained, PRMVerifier) and untrained.name.startswith("prm:untrained")
    checker = load_verifier("step-checker", task=get_task("chain"))
    assert checker.score_steps(PROBLEM, [RIGHT, WRONG]).scores == [[1.0] * 4, [1.0, 0.0, 0.0, 0.0, 0.0]]
    with pytest.raises(Exception, match="no such folder"):
        load_verifier("prm:/nonexistent/prm")
    with pytest.raises(Exception, match="step checker"):
        load_verifier("step-checker", task=get_task("arithmetic"))
