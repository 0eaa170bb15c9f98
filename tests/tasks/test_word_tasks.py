"""last_letter and word_sort: split lengths, answer parsing, and reference reasoning."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from verbalrl.tasks import LastLetterTask, WordSortTask, get_task
from verbalrl.tasks.words import COMMON_WORDS


def test_word_list_is_clean() -> None:
    assert len(COMMON_WORDS) >= 300
    assert len(set(COMMON_WORDS)) == len(COMMON_WORDS)
    assert all(w.isascii() and w.isalpha() and w.islower() for w in COMMON_WORDS)


@pytest.mark.parametrize(
    ("name", "train_sizes", "test_sizes"),
    [("last_letter", {2, 3, 4}, {5, 6}), ("word_sort", {2, 3, 4}, {5})],
)
def test_default_word_counts_follow_the_paper(name, train_sizes, test_sizes) -> None:
    task = get_task(name)
    train = task.problems("train", n=200, seed=0)
    test = task.problems("test", n=200, seed=0)
    assert {len(p.meta["words"]) for p in train} == train_sizes
    assert {len(p.meta["words"]) for p in test} == test_sizes


def test_word_counts_are_configurable() -> None:
    task = get_task(
        "last_letter", train_min_words=3, train_max_words=3, test_min_words=8, test_max_words=8
    )
    assert {len(p.meta["words"]) for p in task.problems("train", n=20)} == {3}
    assert {len(p.meta["words"]) for p in task.problems("test", n=20)} == {8}


@pytest.mark.parametrize("name", ["last_letter", "word_sort"])
def test_inverted_word_range_names_the_fields(name) -> None:
    with pytest.raises(ValidationError, match="train_min_words"):
        get_task(name, train_min_words=5, train_max_words=3)
    with pytest.raises(ValidationError, match="test_max_words"):
        get_task(name, test_max_words=0)


def test_last_letter_answers() -> None:
    task = LastLetterTask()
    problem = next(p for p in task.problems("test", n=50) if len(p.meta["words"]) == 5)
    gold = problem.answer
    assert gold == "".join(w[-1] for w in problem.meta["words"])
    spaced = " ".join(gold.upper())
    for text in [
        f"Answer: {gold}",
        f"Answer: {spaced}",
        f"Answer: {', '.join(gold)}",
        f'**Answer:** "{gold}".',
        f"Answer: the letters make {gold}",
    ]:
        assert task.extract_answer(text) == gold, text
        assert task.check(problem, task.extract_answer(text))
    assert task.extract_answer("I have no idea") is None
    assert not task.check(problem, gold[::-1] if gold != gold[::-1] else gold + "x")
    assert not task.check(problem, gold[:-1])


def test_last_letter_reference_concatenates_step_by_step() -> None:
    task = LastLetterTask()
    problem = task.problems("train", n=1, seed=0)[0].model_copy(
        update={
            "question": 'Take the last letters of the words in "apple cherry lemon" and '
            "concatenate them.",
            "answer": "eyn",
            "meta": {},
        }
    )
    assert task.reference_solution(problem) == "\n".join(
        [
            "The words are: apple, cherry, lemon.",
            'The last letter of "apple" is "e".',
            'The last letter of "cherry" is "y".',
            'Concatenating: "e" + "y" = "ey".',
            'The last letter of "lemon" is "n".',
            'Concatenating: "ey" + "n" = "eyn".',
            'So the answer is "eyn".',
            "Answer: eyn",
        ]
    )


def test_word_sort_answers() -> None:
    task = WordSortTask()
    problem = task.problems("test", n=1, seed=4)[0]
    words = problem.meta["words"]
    gold = " ".join(sorted(words))
    assert problem.answer == gold
    assert f"alphabetically: {' '.join(words)}" in problem.question
    for text in [
        f"Answer: {gold}",
        f"Answer: {', '.join(sorted(words)).title()}",
        f"Answer: {', '.join(sorted(words)[:-1])} and {sorted(words)[-1]}",
        f"Answer: The sorted words are: {gold}.",
    ]:
        assert task.check(problem, task.extract_answer(text)), text
    assert not task.check(problem, " ".join(sorted(words, reverse=True)))
    assert not task.check(problem, " ".join(sorted(words)[:-1]))  # a word missing
    assert not task.check(problem, " ".join(words)) or words == sorted(words)


def test_word_sort_reference_explains_shared_prefixes() -> None:
    task = WordSortTask()
    problem = task.problems("train", n=1)[0].model_copy(
        update={
            "meta": {"words": ["pear", "peach", "car", "cart"]},
            "answer": "car cart peach pear",
        }
    )
    reference = task.reference_solution(problem)
    assert reference is not None
    assert '"car" is a prefix of "cart"' in reference
    assert 'both start with "pea", then "c" comes before "r"' in reference
    assert reference.endswith("Answer: car cart peach pear")
