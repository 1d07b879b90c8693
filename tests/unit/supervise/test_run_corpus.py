"""The run corpus is well formed: at least 40 labelled cases, about half bad, each bad one naming
its defect, and every recorded change applies to its template as written (no orch involved)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.supervise_runs import AGENT, load_cases, task_file, template


def _agent() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_agent", AGENT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = load_cases()


def test_the_corpus_has_forty_cases_about_half_bad_each_bad_one_with_its_defect() -> None:
    bad = [c for c in CASES if not c.good]
    assert len(CASES) >= 40
    assert 0.4 <= len(bad) / len(CASES) <= 0.6
    assert all(c.defect for c in bad)
    assert any(not c.mechanical for c in bad)  # the judge's share is there to measure


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_recorded_change_applies_to_its_template(case: object, tmp_path: Path) -> None:
    from tests.supervise_runs import RunCase

    assert isinstance(case, RunCase)
    for path, text in template(case.template)["files"].items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text or "")
    assert _agent().apply(case.change, tmp_path) == []
    for source in tmp_path.rglob("*.py"):  # the corpus tests the supervisor, not Python's parser
        ast.parse(source.read_text(), str(source))
    task = task_file(case, "python3")["tasks"][0]
    assert task["name"]
    assert task.get("description") or task.get("instruction")
