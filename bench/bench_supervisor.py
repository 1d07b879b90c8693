"""The supervisor on a labelled corpus: how often it is right.

Two corpora. ``--corpus cases`` (the default): tests/data/supervisor/cases, synthetic evidence of
attempts; the pure pipeline decides each, once on the mechanical gates alone and once with the
judge's verdict recorded in the case. ``--corpus runs``: tests/data/supervisor/runs, 40 real attempts
— each a git repository made from a shared template, a task file and a scripted command agent that
applies a recorded change — run through the real `orch run` (real SQLite, the task's checks in the
sandbox), gates only; with ``--ollama URL --model M`` once more with the real judge on that server.

Prints accuracy, the rate of bad work accepted, the rate of good work stopped (false breakpoints),
the autonomous completion of the good tasks, the Brier score and expected calibration error of the
confidence (and what a Platt calibration fitted on these labels would make of them, leave-one-out),
the judge's share (bad work no mechanical check can see) and how much of it was caught, and the time
per case. Asserts nothing.

Usage: python bench/bench_supervisor.py [--corpus cases|runs] [--cases DIR] [--only NAME ...]
       [--ollama URL --model M [--num-ctx N]]
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
from orchcore.supervise.calibration_fit import CalibrationFit, Method, fit_labels


@attrs.frozen
class Row:
    name: str
    good: bool
    mechanical: bool
    action: Action
    confidence: float
    seconds: float
    judge: str = ""  # the run corpus: what the judge said ("not asked", "met (model)", "unavailable: ...")


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


def report(title: str, rows: Sequence[Row], what: str = "supervise") -> None:
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
    fit = fit_labels([r.confidence for r in rows], labels, Method.PLATT)
    if isinstance(fit, CalibrationFit):
        held = fit.after_held_out
        print(f"  Platt on these labels      Brier {held.brier:.3f}, ECE {held.ece:.3f} (leave-one-out)")
    per_case = [r.seconds * 1000 for r in rows]
    print(
        f"  {what} per case{' ' * (19 - len(what))}{statistics.median(per_case):6.2f} ms median, {max(per_case):.2f} ms max"
    )


def judge_share(gates_only: Sequence[Row], judged: Sequence[Row], model: str) -> None:
    """How much of the bad work no mechanical check can see the judge caught."""
    share = [r.name for r in gates_only if not r.good and not r.mechanical]
    caught_by_gates = [r.name for r in gates_only if r.name in share and r.action is not Action.ACCEPT]
    caught = [r.name for r in judged if r.name in share and r.action is not Action.ACCEPT]
    print(f"\nthe judge's share: {len(share)} bad attempts no mechanical check can see {share}")
    print(f"  caught on gates alone      {len(caught_by_gates)} of {len(share)}")
    print(f"  caught with {model}: {len(caught)} of {len(share)} {caught}")
    if judged:
        answered = [r for r in judged if not r.judge.startswith(("unavailable", "not asked"))]
        unavailable = [r.name for r in judged if r.judge.startswith("unavailable")]
        print(
            f"  the judge gave a verdict on {len(answered)} of {len(judged)} attempts; unavailable on {unavailable}"
        )


def _as_row(result: Any) -> Row:
    action = Action(result.action) if result.action in {a.value for a in Action} else Action.FAIL
    if result.action == "none":
        print(f"  ! {result.case.name}: no decision (orch exited {result.exit_code}): {result.output[-300:]}")
    return Row(
        result.case.name,
        result.case.good,
        result.case.mechanical,
        action,
        result.confidence,
        result.seconds,
        result.judge,
    )


def run_corpus_rows(only: Sequence[str], judge: Any) -> list[Row]:
    """Every case of the run corpus through `orch run` (in a fresh folder under /var/tmp)."""
    import shutil
    import tempfile

    from tests.supervise_runs import load_cases, run_case

    cases = [c for c in load_cases() if not only or c.name in only]
    root = Path(tempfile.mkdtemp(prefix="bench-corpus-", dir="/var/tmp"))  # the sandbox hides /tmp
    rows = []
    try:
        for case in cases:
            row = _as_row(run_case(case, root, judge))
            wrong = "" if (row.action is Action.ACCEPT) == row.good else "  <- wrong"
            said = f"  judge {row.judge[:60]}" if judge is not None else ""
            print(
                f"  {row.name:38} {row.action.value:20} {row.confidence:.2f} {row.seconds:5.1f}s{said}{wrong}",
                flush=True,
            )
            rows.append(row)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["cases", "runs"], default="cases")
    parser.add_argument("--cases", type=Path, default=CASES, help="folder of labelled case files")
    parser.add_argument("--only", nargs="*", default=[], help="run corpus: only these case names")
    parser.add_argument("--ollama", help="run corpus: also judge with the Ollama server at this URL")
    parser.add_argument("--model", help="the model on that server (with --ollama)")
    parser.add_argument("--num-ctx", type=int, help="cap the judge's context window (with --ollama)")
    args = parser.parse_args()
    if args.corpus == "runs":
        from tests.supervise_runs import Judge

        if bool(args.ollama) != bool(args.model):
            sys.exit("--ollama URL and --model M go together")
        print("gates only, through orch run:")
        gates_only = run_corpus_rows(args.only, None)
        report("gates only (orch run)", gates_only, what="orch run")
        if args.ollama:
            print(f"\nwith the judge {args.model} at {args.ollama}, through orch run:")
            judge = Judge(args.ollama, args.model, num_ctx=args.num_ctx)
            judged = run_corpus_rows(args.only, judge)
            report(f"with the judge {args.model} (orch run)", judged, what="orch run")
            judge_share(gates_only, judged, args.model)
        else:
            judge_share(gates_only, [], "no judge (pass --ollama URL --model M)")
        return
    files = sorted(args.cases.glob("*.yaml"))
    if not files:
        sys.exit(f"no case files (*.yaml) in {args.cases}")
    report("gates only", run(files, judge=False))
    report("with the judge's recorded verdicts", run(files, judge=True))


if __name__ == "__main__":
    main()
