"""Transform and Trainer find the user code by import path; a fingerprint keeps their cache honest.

Referencing `models.preprocessing.preprocessing_fn` by name means nothing is packaged or
pip-installed at run time (a `module_file` makes TFX build a wheel of models/ and install it on
every cold run). TFX's cache keys on a component's inputs and execution properties, and an import
path does not change when the code behind it does, so the fingerprint of that code goes into the
component's `custom_config`: an edit to the function or to a `models` module it imports re-runs
the component (and, through its new outputs, everything after it). The fingerprint hashes the
parsed syntax tree, not the text, so comments and formatting do not invalidate the cache.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from pathlib import Path

USER_PACKAGE = "models"
FINGERPRINT_KEY = "user_code_fingerprint"


def module_of(function_path: str) -> str:
    """`models.trainer` of `models.trainer.run_fn`."""
    module, _, function = function_path.rpartition(".")
    if not module or not function:
        raise ValueError(f"not a module.function import path: {function_path!r}")
    return module


def _source(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ValueError(f"no Python source found for user-code module {module!r}")
    return Path(spec.origin)


def _is_package(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.submodule_search_locations is not None


def _imported_user_modules(tree: ast.Module, package: str) -> set[str]:
    """The `models.*` modules a module imports (`from models import features` included)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == package)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != package:
                continue
            found.add(node.module)
            if _is_package(node.module):  # `from models import features`: a submodule
                found.update(
                    f"{node.module}.{a.name}"
                    for a in node.names
                    if importlib.util.find_spec(f"{node.module}.{a.name}") is not None
                )
    return found


def fingerprint(function_path: str, package: str = USER_PACKAGE) -> str:
    """sha256 over the syntax trees of the function's module and the `package` modules it
    imports, transitively (sorted by module name, so the order of imports does not matter)."""
    pending, trees = [module_of(function_path)], {}
    while pending:
        module = pending.pop()
        if module in trees:
            continue
        tree = ast.parse(_source(module).read_text(encoding="utf-8"))
        trees[module] = ast.dump(tree, annotate_fields=False, include_attributes=False)
        pending.extend(_imported_user_modules(tree, package) - trees.keys())
    digest = hashlib.sha256()
    for module in sorted(trees):
        digest.update(f"{module}\0{trees[module]}\0".encode())
    return digest.hexdigest()
