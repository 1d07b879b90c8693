"""The supervisor on the labelled corpus (tests/data/supervisor/cases): how often it is right.

For each case (an attempt's evidence, labelled good or bad) the pure pipeline decides, once on the
mechanical gates alone and once with the judge's verdict recorded in the case. Prints accuracy,
the rate of bad work accepted, the rate of good work stopped (false breakpoints), the autonomous
completion of the good tasks, and the Brier score and expected calibration error of the confidence,
plus the time ``supervise`` takes per case. Asserts nothing.

Usage: python bench/bench_supervisor.py [--cases DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the corpus loader lives in tests/

from tests.unit.supervise.build import CASES, load_case

from orchcore.supervise import (
    Action,
    GateConfig,
    SupervisorConfig,
    brier_score,
    expected_calibration_error,
    supervise,
)


@attrs.frozen
class Row:
    name: str
    good: bool
    mechanical: bool
    action: Action
    confidence: float
    seconds: float


def _config(data: dict[str, Any]) -> SupervisorConfig:
    scope = {k: tuple(v) for k, v in data.get("config", {}).get("scope_by_type", {}).items()}
    return SupervisorConfig(gates=GateConfig(scope_by_type=scope))


def run(files: Sequence[Path], *, judge: bool) -> list[Row]:
    rows = []
    for path in files:
        data, task, evidence, history = load_case(path)
        if not judge:
            evidence = attrs.evolve(evidence, judge=None)
        config = _config(data)
        start = time.perf_counter()
        decision = supervise(task, evidence, config, history)
        seconds = time.perf_counter() - start
        rows.append(
            Row(
                data["name"],
                data["label"] == "good",
                bool(data.get("mechanical", False)),
                decision.action,
                decision.confidence,
                seconds,
            )
        )
    return rows


def report(title: str, rows: Sequence[Row]) -> None:
    good = [r for r in rows if r.good]
    bad = [r for r in rows if not r.good]
    right = [r for r in rows if (r.action is Action.ACCEPT) == r.good]
    accepted_bad = [r for r in bad if r.action is Action.ACCEPT]
    stopped_good = [r for r in good if r.action in (Action.STOP_FOR_REVIEW, Action.FAIL)]
    autonomous = [r for r in good if r.action is Action.ACCEPT]
    mechanical_missed = [r.name for r in accepted_bad if r.mechanical]
    confidence = [r.confidence for r in rows]
    labels = [r.good for r in rows]
    print(f"\n{title}: {len(rows)} cases ({len(good)} good, {len(bad)} bad)")
    print(f"  accuracy                   {len(right) / len(rows):6.1%}")
    print(
        f"  bad work accepted          {len(accepted_bad) / len(bad):6.1%}  {[r.name for r in accepted_bad]}"
    )
    print(f"  false breakpoints          {len(stopped_good) / len(good):6.1%}  (target <= 5 %)")
    print(
        f"  autonomous completion      {len(autonomous) / len(good):6.1%}  (good tasks accepted; target > 70 %)"
    )
    print(f"  mechanical defects missed  {len(mechanical_missed):6d}  {mechanical_missed}")
    print(f"  Brier score                {brier_score(confidence, labels):6.3f}")
    print(f"  calibration error (ECE)    {expected_calibration_error(confidence, labels):6.3f}")
    per_case = [r.seconds * 1000 for r in rows]
    print(
        f"  supervise per case         {statistics.median(per_case):6.2f} ms median, {max(per_case):.2f} ms max"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=CASES, help="folder of labelled case files")
    args = parser.parse_args()
    files = sorted(args.cases.glob("*.yaml"))
    if not files:
        sys.exit(f"no case files (*.yaml) in {args.cases}")
    report("gates only", run(files, judge=False))
    report("with the judge's recorded verdicts", run(files, judge=True))


if __name__ == "__main__":
    main()
