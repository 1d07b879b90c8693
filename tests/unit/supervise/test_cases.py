"""The labelled cases in tests/data/supervisor/cases run through ``supervise`` with gates only (the
judge's verdict taken out) and with the judge's recorded verdict: each gets the decision its file
expects, every bad attempt a mechanical check can see is caught, and good work is not stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from orchcore.supervise import Action, GateConfig, SupervisorConfig, supervise
from tests.unit.supervise.build import CASES, load_case

FILES = sorted(CASES.glob("*.yaml"))


def _config(data: dict[str, Any]) -> SupervisorConfig:
    scope = {k: tuple(v) for k, v in data.get("config", {}).get("scope_by_type", {}).items()}
    return SupervisorConfig(gates=GateConfig(scope_by_type=scope))


def _decide(path: Path, *, judge: bool) -> tuple[dict[str, Any], Any]:
    data, task, attempt, history = load_case(path)
    if not judge:
        attempt = attrs.evolve(attempt, judge=None)
    return data, supervise(task, attempt, _config(data), history)


def test_the_corpus_has_at_least_twenty_cases_about_half_of_them_bad() -> None:
    labels = [load_case(p)[0]["label"] for p in FILES]
    assert len(labels) >= 20
    assert 0.4 <= labels.count("bad") / len(labels) <= 0.6


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_case_gets_the_decision_it_expects_on_gates_only(path: Path) -> None:
    data, decision = _decide(path, judge=False)
    assert decision.action is Action(data["expect"]), [t.text for t in decision.trail]
    if "rule" in data:
        assert decision.rule == data["rule"]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_case_gets_the_decision_it_expects_with_the_judges_verdict(path: Path) -> None:
    data, decision = _decide(path, judge=True)
    assert decision.action is Action(data.get("expect_with_judge", data["expect"])), [
        t.text for t in decision.trail
    ]


def test_gates_only_catch_every_mechanically_visible_bad_attempt_and_stop_no_good_one() -> None:
    outcomes = [(data, decision) for data, decision in (_decide(p, judge=False) for p in FILES)]
    missed = [
        d["name"]
        for d, dec in outcomes
        if d["label"] == "bad" and d["mechanical"] and dec.action is Action.ACCEPT
    ]
    good = [(d, dec) for d, dec in outcomes if d["label"] == "good"]
    stopped = [d["name"] for d, dec in good if dec.action is not Action.ACCEPT]
    assert missed == []
    assert len(stopped) / len(good) <= 0.05, stopped


def test_good_work_is_scored_above_bad_work_on_average() -> None:
    scores: dict[str, list[float]] = {"good": [], "bad": []}
    for path in FILES:
        data, decision = _decide(path, judge=True)
        scores[data["label"]].append(decision.confidence)
    mean = {label: sum(values) / len(values) for label, values in scores.items()}
    assert mean["good"] > mean["bad"] + 0.3, mean
