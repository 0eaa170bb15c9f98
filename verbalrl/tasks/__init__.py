"""Problem families: problems per split, a solver prompt, answer extraction, an exact checker.

Built in: `last_letter`, `word_sort`, `arithmetic` (levels 1-4 and "sum30"),
`chain` (chains of + and - with a step checker), `gsm8k`, and `jsonl` for
your own question/answer file. Get one with
`get_task(name, **options)`; add your own by subclassing `GeneratedTask`
(synthetic problems) or `BaseTask` (a dataset) and calling `register_task`.

    task = get_task("arithmetic", level=2)
    problem = task.problems("test", n=1, seed=0)[0]
    messages = task.prompt(problem)           # never contains the answer
    answer = task.extract_answer(model_text)  # None when there is no answer
    task.check(problem, answer)               # exact, after normalisation
"""

from .answers import find_answer_segment, last_number, normalize_number, normalize_text, split_steps
from .arithmetic import ArithmeticConfig, ArithmeticTask
from .base import SPLITS, BaseTask, Problem, ProblemRequest, Split, Task
from .chain import ChainConfig, ChainTask, StepLabel
from .datafiles import TaskDataError
from .generated import GeneratedProblem, GeneratedTask
from .gsm8k import GSM8KConfig, GSM8KTask
from .jsonl_task import JSONLConfig, JSONLTask
from .last_letter import LastLetterConfig, LastLetterTask
from .registry import available_tasks, get_task, register_task
from .word_sort import WordSortConfig, WordSortTask
from .words import COMMON_WORDS

__all__ = [
    "COMMON_WORDS",
    "SPLITS",
    "ArithmeticConfig",
    "ArithmeticTask",
    "BaseTask",
    "ChainConfig",
    "ChainTask",
    "GeneratedProblem",
    "GSM8KConfig",
    "GSM8KTask",
    "GeneratedTask",
    "JSONLConfig",
    "JSONLTask",
    "LastLetterConfig",
    "LastLetterTask",
    "Problem",
    "ProblemRequest",
    "Split",
    "StepLabel",
    "Task",
    "TaskDataError",
    "WordSortConfig",
    "WordSortTask",
    "available_tasks",
    "find_answer_segment",
    "get_task",
    "last_number",
    "normalize_number",
    "normalize_text",
    "register_task",
    "split_steps",
]
