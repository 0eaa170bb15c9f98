"""`verbalrl tasks`: list, sample with the canonical and the old option names, bad input."""

from __future__ import annotations

import json

from .conftest import invoke


def test_tasks_sample_with_problems_and_the_old_n():
    code, out = invoke("tasks", "sample", "word_sort", "--problems", "2", "--json")
    assert code == 0, out
    rows = json.loads(out)
    code, old = invoke("tasks", "sample", "word_sort", "--n", "2", "--json")
    assert code == 0 and json.loads(old) == rows and len(rows) == 2


def test_tasks_sample_reads_a_data_file_by_data_or_the_old_path(qa_file):
    code, out = invoke("tasks", "sample", "jsonl", "--data", qa_file, "--problems", "3", "--json")
    assert code == 0, out
    rows = json.loads(out)
    assert sorted(r["answer"] for r in rows) == ["2", "4", "6"]
    code, old = invoke("tasks", "sample", "jsonl", "--path", qa_file, "--problems", "3", "--json")
    assert code == 0 and json.loads(old) == rows


def test_tasks_lists_and_bad_input_exits_2():
    code, out = invoke("tasks", "list", "--json")
    assert code == 0 and "arithmetic" in json.loads(out)
    code, out = invoke("tasks", "sample", "arithmetic", "--level", "nine")
    assert code == 2 and "error:" in out and "Traceback" not in out
    code, out = invoke("tasks", "sample", "jsonl")  # no data file
    assert code == 2 and "path" in out


def test_tasks_sample_takes_task_options():
    args = ("tasks", "sample", "last_letter", "--problems", "3", "--json")
    code, out = invoke(*args, "--task-option", "test_min_words=1", "--task-option", "test_max_words=1")
    assert code == 0, out
    rows = json.loads(out)
    assert [len(r["meta"]["words"]) for r in rows] == [1, 1, 1]
    assert all(r["answer"] == r["meta"]["words"][0][-1] for r in rows)
    code, out = invoke(*args, "--task-option", "test_max_words")
    assert code == 2 and "KEY=VALUE" in out
    code, out = invoke(*args, "--task-option", "test_max_words=0")
    assert code == 2 and "test_max_words" in out and "Traceback" not in out
