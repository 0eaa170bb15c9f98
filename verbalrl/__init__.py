"""verbalrl: reasoning agents that learn by verbal reinforcement.

The front door: the names most programs need, imported lazily so
`import verbalrl` stays fast (no torch, transformers, chromadb or langgraph
until a name that needs them is used).

    from verbalrl import SingleConfig, build_single_graph, get_task, load_llm, load_verifier

    task = get_task("arithmetic", level="sum30")
    llm = load_llm("smollm2-135m-instruct")
    graph = build_single_graph(llm, load_verifier("genrm-sum30"), SingleConfig(n_drafts=4), task=task)

Packages: `llm` (models), `tasks` (problem families), `agents` (role
prompts), `verifier` (scoring), `selection` (choosing among candidates),
`memory` (experience store), `graphs` (LangGraph agents), `run` (many
problems, resumable), `training`, `evaluation`, `cli`.
"""

from __future__ import annotations

from ._lazy import lazy_exports
from .threads import set_wait_policy

# Before any verbalrl module imports torch: libgomp reads its wait policy once, when it loads
# (idle threads that spin make a busy machine collapse; see verbalrl/threads.py).
set_wait_policy()

__version__ = "0.1.0"

_EXPORTS = {
    # models
    "load_llm": ".llm.registry",
    "register_backend": ".llm.registry",
    "GenerationConfig": ".llm.base",
    "LLM": ".llm.base",
    "FakeLLM": ".llm.fake",
    "LangChainLLM": ".llm.langchain_backend",
    # tasks
    "get_task": ".tasks",
    "register_task": ".tasks",
    "available_tasks": ".tasks",
    "Problem": ".tasks",
    # verifiers
    "Verifier": ".verifier.base",
    "GenRMVerifier": ".verifier.genrm",
    "GenRMCoTVerifier": ".verifier.genrm_cot",
    "load_verifier": ".verifier.registry",
    "register_verifier": ".verifier.registry",
    # selection
    "BestOfN": ".selection",
    "SelfConsistency": ".selection",
    "WeightedVote": ".selection",
    # graphs
    "build_graph": ".graphs",
    "build_single_graph": ".graphs",
    "build_multi_graph": ".graphs",
    "build_reflective_graph": ".graphs",
    "build_search_graph": ".graphs",
    "SingleConfig": ".graphs",
    "MultiConfig": ".graphs",
    "ReflectiveConfig": ".graphs",
    "SearchConfig": ".graphs",
    "initial_state": ".graphs",
    # memory
    "ChromaMemory": ".memory",
    "MemoryConfig": ".memory",
    "Experience": ".memory",
    # runs
    "Runner": ".run",
    "resume": ".run",
    # agents as files
    "AgentSpec": ".run.agent",
    "load_agent": ".run.agent",
}
__all__ = ["__version__", *sorted(_EXPORTS)]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
