"""The commands a human sends to a session (approve, reject, answer, pause, skip, retry,
cancel): each applies one Command through the store, then says what changed and what next."""

from typing import TYPE_CHECKING, Annotated

import typer

from apps.cli.options import ConfigOption, JsonOption, SessionArgument, SessionOption, one_session

if TYPE_CHECKING:
    from orchcore.state import Command


def _command(
    ctx: typer.Context,
    command: "Command",
    config: str | None,
    session: str | None,
    task: str | None = None,
    text: str = "",
    json_out: bool = False,
) -> None:
    from apps.cli import render
    from apps.cli.main import errors, is_newest, runtime
    from orchcore.service import resolve_session, send_command

    with errors():
        rt = runtime(ctx, config)
        from apps.temporal_sessions import command as on_temporal
        from apps.temporal_sessions import held

        ref = held(rt.settings, session, rt.store)
        if ref is not None:  # a workflow holds it: the command is an update, answered by the workflow
            before, after = on_temporal(ref, command, task_id=task, text=text, source="cli")
            render.command_done(command, before, after, ref.backend, json_out=json_out, newest=True)
            return
        sid = resolve_session(rt.store, session)
        before = rt.store.load(sid)
        after = send_command(
            rt.store, sid, command, rt.clock, task_id=task, text=text, source="cli", routing=rt.routing
        )
        from apps.day_report import report_after_command

        report_after_command(rt, before, after)  # a cancel that ends a session no engine drives
        if rt.status_files is not None:
            rt.status_files.update(after)
        render.command_done(
            command, before, after, rt.store.lease_holder(sid), json_out=json_out, newest=is_newest(rt, sid)
        )


TaskArg = Annotated[str | None, typer.Argument(help="Task id (default: the task waiting for you).")]


def approve(
    ctx: typer.Context,
    task: TaskArg = None,
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Approve the task waiting for approval (or review). Then `orch resume` continues."""
    from orchcore.state import Command

    _command(ctx, Command.APPROVE, config, session, task, json_out=json_out)


def reject(
    ctx: typer.Context,
    task: TaskArg = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why; kept in the report.")] = "",
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Reject the waiting task: it fails and tasks depending on it will not run. A task stopped for
    review runs again instead, with the reason as feedback (then `orch resume`)."""
    from orchcore.state import Command

    _command(ctx, Command.REJECT, config, session, task, text=reason, json_out=json_out)


def answer(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Your answer to the agent's question.")],
    task: Annotated[
        str | None, typer.Option("--task", "-t", help="The asking task (default: the one waiting).")
    ] = None,
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Answer the question an agent asked; `orch resume` continues it (in the same agent session)."""
    from orchcore.state import Command

    _command(ctx, Command.ANSWER, config, session, task, text=text, json_out=json_out)


def pause(
    ctx: typer.Context,
    session_arg: SessionArgument = None,
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Pause the session: a running task finishes, nothing new starts until `orch resume`."""
    from orchcore.state import Command

    _command(ctx, Command.PAUSE, config, one_session(session_arg, session), json_out=json_out)


def skip(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id.")],
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Skip a task that has not completed: tasks depending on it may run."""
    from orchcore.state import Command

    _command(ctx, Command.SKIP, config, session, task, json_out=json_out)


def retry(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task id.")],
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Queue a failed, interrupted or cancelled task for another attempt."""
    from orchcore.state import Command

    _command(ctx, Command.RETRY, config, session, task, json_out=json_out)


def cancel(
    ctx: typer.Context,
    session_arg: SessionArgument = None,
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Cancel the session for good; a running agent is stopped."""
    from orchcore.state import Command

    _command(ctx, Command.CANCEL, config, one_session(session_arg, session), json_out=json_out)
