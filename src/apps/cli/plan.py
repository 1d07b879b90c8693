"""`orch plan`: the daily log in, a task file out, drafted by the local model and validated; never run.

The use case is orchcore.daily_plan (pure); this module reads the log, writes the task file
and says what to do next. Registered in apps.cli.main; imports happen inside.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from apps.cli.options import ConfigOption, JsonOption

if TYPE_CHECKING:
    from orchcore.daily_plan import PlanDraft
    from orchcore.ports.drafter import DrafterUnavailable
    from orchcore.tasks import Plan


def _no_model(why: "DrafterUnavailable", target: str, json_out: bool) -> None:
    """Say there is no model to draft with, how to get one, and the template to start from."""
    from apps.cli.main import AGENT_UNAVAILABLE

    template = f"orch plan --template -o {target}"
    if json_out:
        _json({"written": None, "error": why.reason, "hint": why.hint, "template": template})
        raise typer.Exit(AGENT_UNAVAILABLE)
    typer.echo(f"orch: no model to draft with: {why.reason}", err=True)
    if why.hint:
        typer.echo(f"orch: to get one: {why.hint}", err=True)
    typer.echo(
        "orch: orch plan uses the supervisor's Ollama: supervisor.host (or OLLAMA_HOST) and supervisor.model "
        "in orch.yaml (docs/daily-plan.md)",
        err=True,
    )
    typer.echo(f"orch: or start from a template and fill it in: `{template}`", err=True)
    raise typer.Exit(AGENT_UNAVAILABLE)


def _json(data: dict[str, Any]) -> None:
    import json

    typer.echo(json.dumps(data, indent=2))


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file renamed over it)."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is under it (as the user would type it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _task_lines(plan: "Plan") -> list[str]:
    lines = []
    for task in plan.tasks:
        marks = [task.type] + (["needs approval"] if task.requires_approval else [])
        after = f" (after {', '.join(task.depends_on)})" if task.depends_on else ""
        lines.append(f"  {task.id}  [{', '.join(marks)}] {task.title}{after}")
    return lines


def _problem_data(result: "PlanDraft") -> list[dict[str, Any]]:
    return [{"file": p.file, "line": p.line, "field": p.field, "message": p.message} for p in result.problems]


def plan_command(
    ctx: typer.Context,
    log: Annotated[
        Path | None, typer.Argument(help="The daily log (free-form markdown), e.g. daily_logs/2026-12-01.md.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where to write the task file (default: paths.tasks_dir/LOG-NAME.md)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
    template: Annotated[
        bool,
        typer.Option("--template", help="Write (or print) a task file to fill in by hand; no model needed."),
    ] = False,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Draft today's task file from your daily log with the local model, validated (repaired once); never run."""
    from apps.cli.main import BAD_INPUT, config_flag, errors, fail, runtime
    from apps.cli.render import problems
    from apps.taskfile_reader import context_file_check
    from orchcore.daily_plan import day_of, draft_task_file
    from orchcore.daily_plan import template as blank
    from orchcore.ports.drafter import DrafterUnavailable

    if template:
        import datetime

        day = day_of(str(log)) if log is not None else datetime.datetime.now().astimezone().date().isoformat()
        text = blank(day)
        if output is None:
            typer.echo(text, nl=False)
            return
        if output.exists() and not force:
            fail(BAD_INPUT, f"{output} exists; nothing was written (--force replaces it)")
        try:
            _write(output, text)
        except OSError as exc:
            fail(BAD_INPUT, f"cannot write {output}: {exc.strerror}")
        typer.echo(f"wrote {output}: fill it in, then `orch validate {output}` and `orch run {output}`")
        return
    if log is None:
        fail(BAD_INPUT, "name the daily log to plan from (orch plan daily_logs/DATE.md), or use --template")
    try:
        log_text = log.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        fail(BAD_INPUT, f"cannot read the daily log {log}: {why}")
    if not log_text.strip():
        fail(BAD_INPUT, f"the daily log {log} is empty: write what the day is about first")
    with errors():
        rt = runtime(ctx, config, read_only=True)
        settings = rt.settings
        target = output if output is not None else settings.path(settings.paths.tasks_dir) / f"{log.stem}.md"
        shown = _shown(target)
        if target.suffix.lower() in (".yaml", ".yml"):
            fail(BAD_INPUT, f"{shown}: orch plan writes markdown task files, expected a name ending in .md")
        if target.exists() and not force:
            fail(BAD_INPUT, f"{shown} exists; nothing was written (--force replaces it)")
        drafter = rt.drafter()
        if isinstance(drafter, DrafterUnavailable):
            _no_model(drafter, shown, json_out)
            return
        if not json_out:
            typer.echo(f"drafting {shown} from {log} with {settings.supervisor.model} …", err=True)
        workdir = str(settings.path(settings.paths.workdir))
        result = draft_task_file(log_text, str(log), shown, drafter, context_file_check(workdir))
    if isinstance(result, DrafterUnavailable):
        _no_model(result, shown, json_out)
        return
    if not result.valid:
        draft_path = settings.state_dir / "drafts" / f"{log.stem}.md"
        kept: str | None = str(draft_path)
        try:
            _write(draft_path, result.text)
        except OSError:
            kept = None  # the problems are still told
        if json_out:
            _json(
                {
                    "written": None,
                    "valid": False,
                    "tries": result.tries,
                    "model": result.model,
                    "draft": kept,
                    "problems": _problem_data(result),
                }
            )
            raise typer.Exit(BAD_INPUT)
        problems(result.problems)
        tries = "after one repair" if result.tries > 1 else f"(the repair failed: {result.repair_failed})"
        typer.echo(
            f"orch: the model's draft is still invalid {tries}; nothing was written to {shown}", err=True
        )
        if kept is not None:
            typer.echo(f"orch: the last draft (the lines above refer to it) is in {kept}", err=True)
        typer.echo(
            f"orch: fix it by hand, or start from a template: `orch plan --template -o {shown}`", err=True
        )
        raise typer.Exit(BAD_INPUT)
    try:
        _write(target, result.text)
    except OSError as exc:
        fail(BAD_INPUT, f"cannot write {shown}: {exc.strerror}")
    plan = result.plan
    if plan is None:  # valid implies a plan; said for the type checker
        raise typer.Exit(BAD_INPUT)
    if json_out:
        _json(
            {
                "written": shown,
                "valid": True,
                "tries": result.tries,
                "repaired": result.repaired,
                "model": result.model,
                "tasks": [
                    {
                        "id": t.id,
                        "title": t.title,
                        "type": t.type,
                        "requires_approval": t.requires_approval,
                        "depends_on": list(t.depends_on),
                    }
                    for t in plan.tasks
                ],
            }
        )
        return
    count = len(plan.tasks)
    repaired = " (the first draft was repaired once)" if result.repaired else ""
    typer.echo(f"wrote {shown}: {count} task{'s' if count != 1 else ''} drafted by {result.model}{repaired}")
    for line in _task_lines(plan):
        typer.echo(line)
    typer.echo("nothing was run. Read and edit it, then:")
    flag = config_flag(rt, config)
    typer.echo(f"  orch validate {shown}")
    typer.echo(f"  orch run {shown}{flag}")
