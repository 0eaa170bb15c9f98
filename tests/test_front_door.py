"""The public API: every exported name resolves, and the light imports stay light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = [
    "verbalrl",
    "verbalrl.llm",
    "verbalrl.tasks",
    "verbalrl.agents",
    "verbalrl.verifier",
    "verbalrl.training",
    "verbalrl.evaluation",
    "verbalrl.memory",
    "verbalrl.graphs",
    "verbalrl.run",
    "verbalrl.tuning",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, f"{package} exports names it cannot give: {missing}"


def test_the_front_door_has_what_the_readme_uses() -> None:
    import verbalrl

    for name in (
        "load_llm", "GenerationConfig", "get_task", "register_task", "GenRMVerifier", "GenRMCoTVerifier",
        "load_verifier", "build_graph", "build_single_graph", "build_multi_graph", "build_reflective_graph",
        "SingleConfig", "MultiConfig", "ReflectiveConfig", "ChromaMemory", "MemoryConfig", "Runner",
        "AgentSpec", "load_agent",
        "build_search_graph", "SearchConfig",
    ):  # fmt: skip
        assert name in verbalrl.__all__ and callable(getattr(verbalrl, name)), name
    from verbalrl.graphs import build_single_graph
    from verbalrl.run import Runner

    assert verbalrl.build_single_graph is build_single_graph and verbalrl.Runner is Runner


@pytest.mark.parametrize(
    "module", ["verbalrl", "verbalrl.verifier", "verbalrl.memory.records", "verbalrl.selection"]
)
def test_light_imports_load_neither_torch_nor_chromadb(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = [m for m in ('torch', 'transformers', 'chromadb', 'langgraph') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import {module} loaded {out.stdout.strip()}"


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (an import for a type hint only)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return out


def _imports(root: Path) -> dict[str, set[str]]:
    """Module -> the verbalrl modules it imports anywhere (top level or inside functions)."""
    deps: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = package[: len(package) - (node.level - 1)] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
            if target and target.startswith("verbalrl"):
                deps.setdefault(name, set()).add(target)
    return deps


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    return next((c for n in sorted(edges) if n not in state and (c := visit(n))), None)


def test_packages_depend_on_each_other_one_way() -> None:
    # Data flows one way (cli -> run -> graphs -> agents, verifier, memory -> llm): counting imports
    # inside functions too, since a lazy import is still a dependency (the old cli.py <-> cli_run.py
    # cycle was one).
    import verbalrl

    deps = _imports(Path(verbalrl.__file__).parent)
    area = {m: (m.split(".") + ["<root>"])[1] for m in set(deps) | {t for ts in deps.values() for t in ts}}
    edges: dict[str, set[str]] = {}
    for module, targets in deps.items():
        for target in targets:
            if area[module] != area[target]:
                edges.setdefault(area[module], set()).add(area[target])
    assert _cycle(edges) is None, f"packages import each other in a cycle: {_cycle(edges)}"
    assert "cli" not in {t for ts in edges.values() for t in ts}, "only the entry point may use the CLI"


def test_each_package_imports_alone() -> None:
    # A fresh interpreter per package: an import-order problem a warm process would hide.
    for package in PACKAGES + ["verbalrl.cli"]:
        code = f"import {package}; [getattr({package}, n) for n in getattr({package}, '__all__', [])]"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, f"{package}: {result.stderr[-800:]}"
