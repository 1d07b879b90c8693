"""`orch explain TASK`: the supervisor's decision trail of each checked attempt of a task.

Read from the SUPERVISION events (every rule, the judge, the confidence, the decision and the
feedback the agent got). Registered in apps.cli.main; imports happen inside.
"""

from typing import Annotated

import typer


def explain_command(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id.")],
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", help="Session id or a unique prefix (default: the newest)."),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON (every decision's full data).")
    ] = False,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG)."),
    ] = None,
) -> None:
    """Why TASK is where it is: per checked attempt, each gate, the judge, the confidence and the decision."""
    from apps.cli.main import NOT_FOUND, errors, fail, runtime
    from apps.cli.terminal import terminal_safe
    from orchcore.errors import NotFound
    from orchcore.service import resolve_session
    from orchcore.supervision_view import explain_lines, supervision_by_task

    with errors():
        rt = runtime(ctx, config, read_only=True)
        sid = resolve_session(rt.store, session)
        snap = rt.store.load(sid)
        if task not in snap.runs:
            raise NotFound(f"task {task} is not in session {sid} (tasks: {', '.join(snap.plan.ids)})")
        events = rt.store.events(sid)
        if json_out:
            import json

            typer.echo(json.dumps(supervision_by_task(events).get(task, []), indent=2, default=str))
            return
        lines = explain_lines(events, task)
        if not lines:
            fail(
                NOT_FOUND,
                f"task {task} has no checked attempt (it has no checks and supervisor.enabled is off)",
            )
        for line in lines:
            typer.echo(terminal_safe(line, one_line=True))
