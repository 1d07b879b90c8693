"""`orch calibrate`: fit the supervisor's confidence to what humans decided, and keep the fit.

Labels: every `orch approve` / `orch reject` of a task stopped for review (from the store's
events), and the `rating: TASK good|bad` lines of `feedback/*.md` (a rating in
`feedback/DATE.md` labels the task's last judged attempt in the sessions of the task file
`DATE.*`). The fitting is pure (orchcore.supervise.calibration_fit); this module reads,
prints and writes. Registered in apps.cli.main; imports happen inside.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from orchcore.supervise.calibration_fit import CalibrationFit
    from orchcore.supervise.calibration_labels import LabelledAttempt


def gather_labels(rt: "Runtime") -> "tuple[list[LabelledAttempt], list[str]]":
    """Every labelled attempt in the store and the feedback folder, and the ratings that matched no
    judged attempt (as ``feedback/FILE: TASK``)."""
    from orchcore.supervise.calibration_labels import SessionHistory, history_labels

    sessions = [
        SessionHistory(s.id, Path(s.source).stem, rt.store.events(s.id))
        for s in sorted(rt.store.sessions(), key=lambda s: s.created_at)
    ]
    folder = rt.settings.path("feedback")
    feedback: list[tuple[str, str]] = []
    names: dict[str, str] = {}
    for file in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        try:
            feedback.append((file.stem, file.read_text(encoding="utf-8", errors="replace")))
        except OSError as exc:
            typer.echo(f"orch: skipped {file}: {exc.strerror}", err=True)
            continue
        names[file.stem] = f"{folder.name}/{file.name}"
    labels, unmatched = history_labels(sessions, feedback)
    return labels, [f"{names[stem]}: {task}" for stem, task in unmatched]


def _figures(fit: "CalibrationFit") -> dict[str, Any]:
    cal = fit.calibration
    return {
        "method": fit.method.value,
        "samples": fit.samples,
        "good": fit.good,
        "bad": fit.samples - fit.good,
        "brier_before": round(fit.before.brier, 4),
        "ece_before": round(fit.before.ece, 4),
        "brier_after_in_sample": round(fit.after.brier, 4),
        "ece_after_in_sample": round(fit.after.ece, 4),
        "brier_after_held_out": round(fit.after_held_out.brier, 4),
        "ece_after_held_out": round(fit.after_held_out.ece, 4),
        "map": {"kind": cal.kind.value, "a": cal.a, "b": cal.b, "xs": list(cal.xs), "ys": list(cal.ys)},
    }


def calibrate_command(
    ctx: typer.Context,
    method: Annotated[
        str, typer.Option("--method", help="platt (two parameters, 10+ labels) or isotonic (30+ labels).")
    ] = "platt",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fit and print, but do not write the calibration.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
) -> None:
    """Fit the confidence to your approve/reject decisions and feedback ratings; the supervisor then uses it."""
    from apps.calibration_file import record_for, write_calibration
    from apps.cli.main import BAD_INPUT, WRONG_STATE, errors, fail, runtime
    from orchcore.supervise.calibration_fit import Method, TooFewLabels, fit_labels

    if method not in {m.value for m in Method}:
        fail(BAD_INPUT, f"--method: found {method!r}, expected platt or isotonic")
    with errors():
        rt = runtime(ctx, config, read_only=True)
        labels, unmatched = gather_labels(rt)
        for line in unmatched:
            typer.echo(f"orch: no judged attempt for the rating in {line}", err=True)
        fit = fit_labels([x.raw for x in labels], [x.good for x in labels], Method(method))
        if isinstance(fit, TooFewLabels):
            fail(WRONG_STATE, f"{fit.message}; nothing was written")
        path = rt.settings.calibration_path
        weights = rt.settings.supervisor.weights()
        if not dry_run:
            write_calibration(path, record_for(fit, weights, rt.clock.now().isoformat()))
        figures = _figures(fit) | {"written": None if dry_run else str(path)}
        if json_out:
            import json

            typer.echo(json.dumps(figures, indent=2))
            return
        reviews = sum(x.source.value == "review" for x in labels)
        typer.echo(
            f"{fit.samples} labelled attempts ({fit.good} good, {fit.samples - fit.good} bad; "
            f"{reviews} from reviews, {fit.samples - reviews} from feedback ratings)"
        )
        typer.echo(f"{'':24}{'Brier':>8}{'ECE':>8}")
        typer.echo(f"{'before (raw)':24}{fit.before.brier:8.3f}{fit.before.ece:8.3f}")
        typer.echo(f"{'after, in sample':24}{fit.after.brier:8.3f}{fit.after.ece:8.3f}")
        typer.echo(f"{'after, leave-one-out':24}{fit.after_held_out.brier:8.3f}{fit.after_held_out.ece:8.3f}")
        if dry_run:
            typer.echo(f"dry run: {path} was not written")
        else:
            typer.echo(f"{fit.method.value} calibration written to {path}; the next attempts use it")
