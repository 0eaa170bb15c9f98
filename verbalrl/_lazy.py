"""Lazy package exports: a public name is imported from its module on first use.

In scope: the module-level `__getattr__`/`__dir__` pair (PEP 562) that every
package front door uses, so `import verbalrl` or `import verbalrl.verifier`
never pulls torch, transformers or chromadb until a name that needs them is
touched. Left out: which names a package exports (each `__init__.py` says).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, where `exports` maps a name to its module.

    A module path starting with "." is relative to `package`. The value is
    cached in the package's namespace after the first lookup.
    """

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name, package), name)
        importlib.import_module(package).__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__
