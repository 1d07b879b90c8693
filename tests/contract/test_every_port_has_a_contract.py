"""Meta: every port has a contract suite, and every adapter class runs one."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import adapters
import orchcore.ports
from orchcore.testing.contracts import ALL_CONTRACTS

ROOT = Path(__file__).resolve().parents[2]
ROLE_SUFFIXES = (
    "Store",
    "Agent",
    "Notifier",
    "Logs",
    "Workspace",
    "Questions",
    "Clock",
    "Ids",
    "Checkpoints",
    "Supervisor",
    "CheckRunner",
    "Watcher",
    "Executor",
    "Workers",
    "Summarizer",
    "Charts",
    "Drafter",
)


def port_names() -> set[str]:
    exported = {name: getattr(orchcore.ports, name) for name in orchcore.ports.__all__}  # imported lazily
    return {
        name
        for name, obj in exported.items()
        if inspect.isclass(obj)
        and getattr(obj, "_is_protocol", False)
        and obj.__module__.startswith("orchcore.ports")
    }


def adapter_classes() -> set[str]:
    found = set()
    for module in pkgutil.walk_packages(adapters.__path__, "adapters."):
        for name, obj in vars(importlib.import_module(module.name)).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.name
                and not name.startswith("_")
                and name.endswith(ROLE_SUFFIXES)
            ):
                found.add(name)
    return found


def classes_under_contract() -> set[str]:
    names = set()
    for path in (ROOT / "tests" / "contract").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                names.add(node.name.removeprefix("Test"))
    return names


def test_every_port_has_a_contract_suite() -> None:
    contracts = {c.__name__.removesuffix("Contract") for c in ALL_CONTRACTS}
    assert port_names() <= contracts, f"ports without a contract: {port_names() - contracts}"


def test_every_adapter_runs_a_contract() -> None:
    missing = adapter_classes() - classes_under_contract()
    assert not missing, f"adapters without a Test<Adapter> in tests/contract: {sorted(missing)}"
