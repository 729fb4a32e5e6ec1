"""The package layering of DESIGN.md ("Layout and layering"), STYLE.md §2 and DEVELOPING.md, by `ast`.

Rules, checked on every module of the four packages without importing them:

1. Layers: ``audit_log`` imports none of the others; ``disclosure`` only ``audit_log``;
   ``inference`` ``audit_log`` and ``disclosure``; ``reporting`` any of them.
2. A package's API is its ``__init__``: another package may import a package (the top-level one or a
   subpackage such as ``inference.attestation``) and names from it, never one of its module files
   (``audit_log.errors``, ``audit_log.store.sql``...).
   The one documented exception: the shared signed formats live once, in ``audit_log/formats/``
   (DESIGN.md), so ``audit_log.formats`` and its modules (jcs, dsse, note) may be imported directly.

Imports under ``if TYPE_CHECKING:`` count too: a type-only upward import is still a layering error.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("audit_log", "disclosure", "inference", "reporting")
MAY_IMPORT = {
    "audit_log": frozenset[str](),
    "disclosure": frozenset({"audit_log"}),
    "inference": frozenset({"audit_log", "disclosure"}),
    "reporting": frozenset({"audit_log", "disclosure", "inference"}),
}
SHARED_FORMATS = "audit_log.formats"


def _kind(dotted: str) -> str | None:
    """'package' for a directory with __init__.py, 'module' for a .py file, None for anything else."""
    path = REPO_ROOT.joinpath(*dotted.split("."))
    if (path / "__init__.py").is_file():
        return "package"
    if path.with_suffix(".py").is_file():
        return "module"
    return None


def _module_name(path: Path) -> tuple[str, bool]:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every (line, dotted target) a module imports; ``from a import b`` names ``a.b`` if that is a file."""
    own_package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 >= len(own_package):
                    continue  # beyond the top-level package: not one of ours
                parent = own_package[: len(own_package) - (node.level - 1)]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if _kind(candidate) else base


def violations_in(source: str, module: str, is_package: bool = False) -> list[str]:
    """Layering violations of one module's source, as 'line: message' strings."""
    own = module.split(".")[0]
    found: list[str] = []
    for line, target in dict.fromkeys(_imports(ast.parse(source), module, is_package)):
        top = target.split(".")[0]
        if top not in PACKAGES or top == own:
            continue
        if top not in MAY_IMPORT[own]:
            allowed = ", ".join(sorted(MAY_IMPORT[own])) or "none of the others"
            found.append(
                f"{line}: {own} must not import {top} (layer rule: {own} may import {allowed}): {target}"
            )
            continue
        if target == SHARED_FORMATS or target.startswith(SHARED_FORMATS + "."):
            continue
        if _kind(target) != "package":
            found.append(
                f"{line}: {target} is a private module of {top}; import the name from {top}'s "
                f"__init__ (export it there in __all__) instead"
            )
    return found


def _all_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO_ROOT / package).rglob("*.py"))


def test_every_package_module_is_checked() -> None:
    modules = _all_modules()
    assert {p.relative_to(REPO_ROOT).parts[0] for p in modules} == set(PACKAGES)
    assert len(modules) > 20


def test_no_module_breaks_the_package_layering() -> None:
    report = []
    for path in _all_modules():
        module, is_package = _module_name(path)
        for violation in violations_in(path.read_text(encoding="utf-8"), module, is_package):
            report.append(f"{path.relative_to(REPO_ROOT)}:{violation}")
    assert not report, "layering violations (DESIGN.md 'Layout and layering'):\n" + "\n".join(report)


# --- The checker itself must be able to fail ------------------------------------------------------

CHECKER_CASES = {
    "audit_log-imports-inference": ("import inference", "audit_log.log", 1),
    "audit_log-imports-reporting-from": ("from reporting import cli", "audit_log.log", 1),
    "disclosure-imports-inference": ("from inference import create_app", "disclosure.seal", 1),
    "inference-imports-reporting": ("import reporting.cli", "inference.pipeline", 1),
    "type-checking-upward-import": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from inference import x",
        "audit_log.log",
        1,
    ),
    "private-module-by-from": ("from audit_log.errors import FormatError", "inference.gates", 1),
    "private-module-by-import": ("import audit_log.merkle", "reporting.officer", 1),
    "private-module-as-name": ("from audit_log import errors", "reporting.cli.exit_codes", 1),
    "private-module-of-subpackage": ("from audit_log.store.base import LogStore", "inference.http.app", 1),
    "init-import-is-fine": ("from audit_log import FormatError, Mode", "disclosure.seal", 0),
    "subpackage-init-is-fine": ("from inference import attestation", "reporting.cli.exit_codes", 0),
    "shared-formats-are-fine": (
        "from audit_log.formats import jcs\nfrom audit_log.formats.note import parse_vkey",
        "disclosure.keys",
        0,
    ),
    "own-package-modules-are-fine": (
        "from audit_log.merkle import leaf_hash\nfrom . import tiles",
        "audit_log.log",
        0,
    ),
    "relative-import-stays-inside": ("from ..errors import GatewayError", "inference.http.app", 0),
    "third-party-is-ignored": ("import sqlalchemy\nfrom fastapi import FastAPI", "audit_log.store.sql", 0),
}


@pytest.mark.parametrize(("source", "module", "expected"), CHECKER_CASES.values(), ids=CHECKER_CASES.keys())
def test_layering_checker_flags_exactly_the_forbidden_imports(
    source: str, module: str, expected: int
) -> None:
    assert len(violations_in(source, module)) == expected, violations_in(source, module)


# --- Exported names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PACKAGES)
def test_package_all_lists_names_that_exist(name: str) -> None:
    package = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(package).items()
        if not attr.startswith("_") and not isinstance(value, ModuleType) and attr != "annotations"
    }
    exported = getattr(package, "__all__", None)
    if exported is None:
        assert not public, f"{name} exposes {sorted(public)} but has no __all__ listing its API"
        return
    assert all(isinstance(item, str) for item in exported), f"{name}.__all__ must hold strings"
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
    missing = [item for item in exported if not hasattr(package, item)]
    assert not missing, f"{name}.__all__ names {missing}, which {name} does not define"
