"""Agent roles: a prompt template plus a parser to a typed result, one role per file.

Roles: `solver` (drafts a solution, optionally with memory context, lessons and a
persona), `critic` (points out errors in a draft), `reviser` (rewrites a draft
given a critique), `reflector` (turns a failed attempt into a concrete plan),
`debater` (revises its own draft after reading the other agents' drafts).
The concept-distillation prompt belongs to memory (`verbalrl.memory.distill`);
`roles.py` tells which role a prompt was built for. Model output is
untrusted: every parser takes any string and returns a result whose `ok` says
whether the model did what was asked; none raises. Left out: calling the model
and deciding what to do next (the graphs in `verbalrl.graphs` do that).

No prompt builder reads `Problem.answer` or `Problem.meta`: each goes through
`blind(problem)`, so the gold answer cannot reach a model.
"""

from .base import Critique, DraftResult, Lesson, blind, parse_draft, safe_extract
from .critic import critic_prompt, critique_from_rationale, parse_critique
from .debater import debater_prompt
from .reflector import parse_lesson, reflector_prompt
from .reviser import reviser_prompt
from .solver import PERSONAS, solver_prompt

__all__ = [
    "PERSONAS",
    "Critique",
    "DraftResult",
    "Lesson",
    "blind",
    "critic_prompt",
    "critique_from_rationale",
    "debater_prompt",
    "parse_critique",
    "parse_draft",
    "parse_lesson",
    "reflector_prompt",
    "reviser_prompt",
    "safe_extract",
    "solver_prompt",
]
