"""The `orch` command line: parse, call one use case, render. No rules here.

Heavy modules (the store, the engine, rich) are imported inside commands so
that `orch --help` starts fast. The command modules do without
``from __future__ import annotations``: typer reads every command's signature
on each start, and string annotations would be eval'd each time (two thirds of
building the command tree); names imported only for type checking are quoted.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from apps.cli.options import (
    ConfigOption,
    JsonOption,
    SessionArgument,
    SessionOption,
    TaskQueueOption,
    TemporalOption,
    one_session,
)

WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="When a human is needed, wait: an answer in questions/TASK-answer.md, or an answer or "
        "approval sent from anywhere, continues the run by itself.",
    ),
]

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from orchcore.engine import RunOutcome
    from orchcore.errors import SessionExists
    from orchcore.ports.agent import Agent
    from orchcore.tasks import Plan

# Exit codes (documented in README.md)
OK = 0
RUN_FAILED = 1  # the session ended failed, halted or cancelled
BAD_INPUT = 2  # invalid task file, config or option
WRONG_STATE = 3  # the command is not allowed in the session's current state
AGENT_UNAVAILABLE = 4  # the agent cannot start
BUSY = 5  # another engine is driving the session
NOT_FOUND = 6  # no such session or task
STORE_FAILED = 7  # the state store could not be read or written
UNDELIVERED = 8  # `orch notify --flush`: notifications are still undelivered (or were given up)
INTERRUPTED = 130

app = typer.Typer(
    name="orch",
    help="Run AI coding agents on today's task file, in dependency order, with you in control.\n\n"
    "Start with `orch validate TASKFILE`, then `orch run TASKFILE`. State lives in your user state dir "
    "(~/.local/state/orchcore/projects/, or paths.state_dir); every command works from any shell while "
    "a run is going on.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def fail(code: int, message: str) -> NoReturn:
    """Print one clear line to stderr and exit with ``code``."""
    from apps.cli.terminal import terminal_safe

    typer.echo(terminal_safe(f"orch: {message}", one_line=True), err=True)
    raise typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """Map orchcore errors to one line and an exit code: the one place that does."""
    from orchcore import errors as e

    try:
        yield
    except e.TaskFileError as exc:
        from apps.cli.render import problems

        problems(exc.problems)
        raise typer.Exit(BAD_INPUT) from None
    except e.IllegalTransition as exc:
        fail(WRONG_STATE, f"{exc}; nothing was changed")
    except e.ConfigError as exc:
        lines = str(exc).split("\n")
        if len(lines) == 1:
            fail(BAD_INPUT, f"config: {lines[0]}")
        for line in lines:
            typer.echo(line, err=True)
        fail(BAD_INPUT, f"config: {len(lines)} problems found")
    except e.AgentUnavailable as exc:
        fail(AGENT_UNAVAILABLE, f"agent unavailable: {exc}")
    except e.SessionBusy as exc:
        fail(BUSY, f"{exc}; wait for it to stop, or `orch pause` it")
    except e.NotFound as exc:
        fail(NOT_FOUND, str(exc))
    except e.StoreError as exc:
        fail(STORE_FAILED, f"state store: {exc}")
    except KeyboardInterrupt:
        typer.echo(
            "\norch: interrupted; the running task is marked interrupted. Continue with `orch resume`.",
            err=True,
        )
        raise typer.Exit(INTERRUPTED) from None


def runtime(
    ctx: typer.Context, config: str | None, *, near: Path | None = None, read_only: bool = False
) -> "Runtime":
    """The Runtime a test passed in ``obj``, or one built from settings (the config next to
    the task file in ``near``, else in the current folder). ``read_only`` commands create no
    state dir when there is none yet."""
    if ctx.obj is not None:
        return ctx.obj  # type: ignore[no-any-return]
    from apps.bootstrap import build_runtime
    from apps.logs import configure_logging
    from apps.settings_cache import cached_settings

    settings = cached_settings(config, near=near)
    configure_logging(settings, read_only=read_only)
    rt = build_runtime(settings, read_only=read_only)
    ctx.obj = rt
    ctx.call_on_close(rt.close)
    return rt


def read_plan(file: Path, workdir: str | None = None) -> "Plan":
    from apps.taskfile_reader import read_plan as read

    try:
        return read(str(file), workdir=workdir)
    except OSError as exc:
        fail(BAD_INPUT, f"cannot read task file {file}: {exc.strerror}")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Task file (.md or .yaml).")],
    json_out: JsonOption = False,
) -> None:
    """Check a task file: every problem at once as FILE:LINE: field: message (exit 2), or a summary.

    Context files must be files in the workspace (paths.workdir of the config next to FILE or here)."""
    from apps.cli import render
    from apps.taskfile_reader import read_plan as read
    from orchcore.errors import TaskFileError

    workdir = _workdir_near(file)
    if not json_out:
        with errors():
            plan = read_plan(file, workdir)
        render.validated(plan, json_out=False)
        return
    try:
        plan = read(str(file), workdir=workdir)
    except (TaskFileError, OSError) as exc:  # JSON either way: a script reads stdout
        render.invalid(str(file), exc)
        raise typer.Exit(BAD_INPUT) from None
    render.validated(plan, json_out=True)


def _workdir_near(file: Path) -> str | None:
    """The workspace the config next to ``file`` (or here) names; None, said on stderr, when the
    config cannot be read (context files are then not checked)."""
    from apps.settings import load_settings
    from orchcore.errors import ConfigError

    try:
        settings = load_settings(None, near=file.resolve().parent)
    except ConfigError as exc:
        typer.echo(f"orch: context files not checked: config: {str(exc).splitlines()[0]}", err=True)
        return None
    return str(settings.path(settings.paths.workdir))


@app.command()
def run(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Task file (.md or .yaml).")],
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Start tasks without asking (checkpoints still stop).")
    ] = False,
    agent: Annotated[
        str | None, typer.Option("--agent", "-a", help="Agent to use (default from config: agent.name).")
    ] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Start a new session even if this file has an unfinished one.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the agent's output lines.")] = False,
    wait: WaitOption = False,
    config: ConfigOption = None,
    backend: Annotated[
        str, typer.Option("--backend", help="sqlite (this process) or temporal (workers).")
    ] = "sqlite",
    temporal: TemporalOption = None,
    task_queue: TaskQueueOption = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="temporal: start the session, do not follow it.")
    ] = False,
) -> None:
    """Start a session for FILE and run its tasks until done or a human is needed."""
    from apps.notify import sending
    from orchcore.errors import SessionExists
    from orchcore.service import start_session

    with errors():
        plan = read_plan(file)
        rt = runtime(ctx, config, near=file.resolve().parent)
        from apps.taskfile_reader import check_context_files

        check_context_files(plan, str(file), str(rt.settings.path(rt.settings.paths.workdir)))
        from apps.prompt_files import prompter_for

        prompter_for(rt.settings)  # a broken template or rules file stops here, before a session exists
        agent_name = agent or rt.settings.agent.name
        chosen = rt.agents(agent_name)
        chosen.check()
        plan = _with_source(plan, str(file.resolve()))
        if backend == "temporal":  # the workflow drives it, on `orch worker`s
            from apps.cli.temporal import run_on_temporal

            code = run_on_temporal(
                rt,
                plan,
                agent=agent_name,
                auto_approve=auto_approve,
                address=temporal,
                task_queue=task_queue,
                detach=detach,
            )
            raise typer.Exit(code)
        if backend != "sqlite":
            fail(BAD_INPUT, f"--backend {backend!r}: expected sqlite or temporal")
        try:
            snap = start_session(
                rt.store,
                plan,
                rt.ids,
                rt.clock,
                agent=agent_name,
                auto_approve=auto_approve,
                new=new,
                routing=rt.routing,
            )
        except SessionExists as exc:
            fail(WRONG_STATE, _exists_message(exc, file, config_flag(rt, config)))
        warn_at_start(rt, snap.session.id)
        learn_from_feedback(rt)  # before the engine's prompter reads the lessons
        from apps.cli import render

        render.started(snap)
        with sending(rt):
            outcome = drive(rt, chosen, snap.session.id, verbose=verbose)
            if wait:
                from apps.cli.waiting import drive_until_done

                drive_until_done(rt, chosen, snap.session.id, verbose=verbose)
    raise typer.Exit(finish(rt, outcome.session.id, config_flag(rt, config)))


def config_flag(rt: "Runtime", explicit: str | None) -> str:
    """`` -c FILE`` for the commands orch suggests when the config came from next to the task
    file, not the current folder: without it they would look at another state dir."""
    import shlex

    source = rt.settings.source
    if explicit or not source or Path(source).parent.resolve() == Path.cwd().resolve():
        return ""
    return f" -c {shlex.quote(source)}"


def _exists_message(exc: "SessionExists", file: Path, flag: str = "") -> str:
    """Why a run is refused and the two commands that go on from there."""
    if exc.state == "completed":
        return (
            f"{exc}: running it again runs every task again in a new session; "
            f"to do that: `orch run {file} --new` (see what was done: `orch report -s {exc.session_id}{flag}`)"
        )
    return (
        f"{exc}: continue it with `orch resume -s {exc.session_id}{flag}`, "
        f"or start another with `orch run {file} --new`"
    )


def drive(rt: "Runtime", agent: "Agent", session_id: str, *, verbose: bool) -> "RunOutcome":
    """Run the engine on ``session_id`` until it stops, showing progress."""
    import sys

    from apps.cli.render import Progress
    from apps.warm_up import warming

    # while the agents work, what the session's end needs (the day's report) is imported beside them
    with Progress(verbose=verbose, tty=sys.stdout.isatty()) as progress, warming():
        return rt.engine(agent, progress).run(session_id)


def is_newest(rt: "Runtime", session_id: str) -> bool:
    """Whether commands without -s act on ``session_id`` (hints for another one carry -s)."""
    newest = rt.store.sessions()
    return bool(newest) and newest[0].id == session_id


def finish(rt: "Runtime", session_id: str, flag: str = "") -> int:
    """Say how the run ended and what to do next; the exit code: the one place that picks it."""
    from apps.cli import render
    from orchcore.service import run_succeeded

    snap = rt.store.load(session_id)
    render.finished(snap, newest=is_newest(rt, session_id), config_flag=flag)
    from apps.cli.day_report import say_where_the_report_is

    say_where_the_report_is(rt, snap)
    return OK if run_succeeded(snap.session.state) else RUN_FAILED


def warn_at_start(rt: "Runtime", session_id: str) -> None:
    """Tell, once per session, what the user should fix (orch's files in the workspace, a legacy state
    dir): one line each on stderr and as a session event; a resume repeats none already told."""
    from apps.own_files import workspace_warnings
    from orchcore.service import record_warnings, warnings_told

    told = warnings_told(rt.store, session_id)
    lines = [line for line in workspace_warnings(rt.settings) if line not in told]
    for line in lines:
        typer.echo(line, err=True)
    record_warnings(rt.store, rt.clock, session_id, lines)


def _with_source(plan: "Plan", source: str) -> "Plan":
    import attrs

    return attrs.evolve(plan, source=source)


@app.command()
def resume(
    ctx: typer.Context,
    session_arg: SessionArgument = None,
    session: SessionOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the agent's output lines.")] = False,
    wait: WaitOption = False,
    config: ConfigOption = None,
) -> None:
    """Continue a paused, approved, answered, halted or crashed session (an answer you wrote in
    questions/TASK-answer.md counts)."""
    from apps.notify import sending
    from orchcore.service import claim_for_resume, resolve_session, resume_session

    with errors():
        rt = runtime(ctx, config)
        from apps.temporal_sessions import held

        if (
            held(rt.settings, one_session(session_arg, session), rt.store) is not None
        ):  # the workflow drives it
            from apps.cli.control import _command
            from orchcore.state import Command

            _command(ctx, Command.RESUME, config, one_session(session_arg, session))
            return
        sid = resolve_session(rt.store, one_session(session_arg, session))
        claim_for_resume(rt.store, sid)
        chosen = rt.agents(rt.store.session(sid).agent or rt.settings.agent.name)
        chosen.check()
        from apps.cli.waiting import drive_until_done, pick_up_written_answers

        pick_up_written_answers(rt, sid)
        resume_session(rt.store, sid, rt.clock, routing=rt.routing)
        warn_at_start(rt, sid)
        learn_from_feedback(rt)
        with sending(rt):
            drive(rt, chosen, sid, verbose=verbose)
            if wait:
                drive_until_done(rt, chosen, sid, verbose=verbose)
    raise typer.Exit(finish(rt, sid))


@app.command()
def status(
    ctx: typer.Context,
    session_arg: SessionArgument = None,
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Where the session stands: every task's state, what waits on you, what to do next."""
    from apps.cli.status import gather

    with errors():
        rt = runtime(ctx, config, read_only=True)
        from apps.temporal_sessions import held, snapshot

        ref = held(rt.settings, one_session(session_arg, session), rt.store)
        if ref is not None:  # a workflow holds it: its state by query, the backend as its engine
            from apps.cli import render
            from apps.temporal_sessions import events as temporal_events
            from orchcore.records import EventKind
            from orchcore.safety.events import recorded_safety_events
            from orchcore.sandbox import sandbox_line
            from orchcore.supervision_view import supervision_by_task

            seen = temporal_events(ref)
            render.prepared_status(
                snapshot(ref),
                ref.backend,
                json_out=json_out,
                config=rt.settings.source,
                safety=recorded_safety_events([e for e in seen if e.kind is EventKind.SAFETY]),
                sandbox=sandbox_line(seen),
                supervision=supervision_by_task(seen),
            )()
            return
        gather(rt.store, rt.settings.source, one_session(session_arg, session), json_out=json_out)()


from apps.cli.control import answer, approve, cancel, pause, reject, retry, skip  # noqa: E402 - typer only

app.command()(approve)
app.command()(reject)
app.command()(answer)
app.command()(pause)
app.command()(skip)
app.command()(retry)
app.command()(cancel)


@app.command()
def logs(
    ctx: typer.Context,
    task: Annotated[
        str | None, typer.Argument(help="Task id: its log; without it, the session's events.")
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines.", min=1)] = 40,
    attempt: Annotated[
        int | None, typer.Option("--attempt", help="Which attempt (default: the latest).")
    ] = None,
    session: SessionOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show the last lines of a task's log (and what the safety layers refused), or the session's latest events."""
    from apps.cli import render
    from orchcore.errors import NotFound
    from orchcore.records import EventKind
    from orchcore.safety.events import recorded_safety_events
    from orchcore.service import resolve_session

    with errors():
        rt = runtime(ctx, config, read_only=True)
        from apps.temporal_sessions import events as temporal_events
        from apps.temporal_sessions import held, snapshot

        ref = held(rt.settings, session, rt.store)
        if ref is not None and task is None:  # the workflow keeps a Temporal session's events
            render.events(temporal_events(ref)[-lines:], json_out=json_out)
            return
        sid = ref.session_id if ref is not None else resolve_session(rt.store, session)
        # a task's log is a file where its attempt ran: here when the worker shares this state dir
        snap_full = snapshot(ref) if ref is not None else rt.store.load(sid)
        if task is None:
            render.events(rt.store.events(sid)[-lines:], json_out=json_out)
            return
        if task not in snap_full.runs:
            raise NotFound(f"task {task} is not in session {sid} (tasks: {', '.join(snap_full.plan.ids)})")
        n = attempt or snap_full.runs[task].attempt
        if n == 0:
            fail(NOT_FOUND, f"task {task} has not run yet")
        refusals = (
            [e for e in temporal_events(ref) if e.kind is EventKind.SAFETY]
            if ref is not None
            else rt.store.events(sid, kinds=(EventKind.SAFETY,))
        )
        safety = [r for r in recorded_safety_events(refusals) if r.task_id == task and r.attempt == n]
        render.log_lines(
            task,
            n,
            rt.logs.tail(sid, task, n, lines),
            rt.logs.path(sid, task, n),
            json_out=json_out,
            safety=safety,
        )


@app.command()
def report(
    ctx: typer.Context,
    session_arg: SessionArgument = None,
    session: SessionOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file (--day: folder).")
    ] = None,
    config: ConfigOption = None,
    day: Annotated[
        bool, typer.Option("--day", help="The day's report across sessions (argument: DATE, default today).")
    ] = False,
) -> None:
    """The end-of-session report in markdown: outcomes, attempts, time, tokens, cost, failures."""
    from orchcore.service import build_report, resolve_session

    if day:  # `orch report --day [DATE]`: the positional argument is the date
        from apps.cli.day_report import day_report

        day_report(ctx, session_arg, config, output)
        return
    with errors():
        rt = runtime(ctx, config, read_only=True)
        sid = resolve_session(rt.store, one_session(session_arg, session))
        text = build_report(rt.store, rt.logs, rt.clock, sid, rt.settings.budget_policy())
    if output is None:
        from apps.cli.terminal import terminal_safe

        typer.echo(terminal_safe(text), nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(BAD_INPUT, f"cannot write {output}: {exc.strerror}")
    typer.echo(f"report written to {output}")


@app.command()
def budget(ctx: typer.Context, json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """Today's spend across all sessions against the daily limit, attempt by attempt."""
    from apps.cli import render
    from orchcore.service import budget_report

    with errors():
        rt = runtime(ctx, config, read_only=True)
        render.budget(budget_report(rt.store, rt.settings.budget_policy(), rt.clock), json_out=json_out)


@app.command()
def sessions(ctx: typer.Context, json_out: JsonOption = False, config: ConfigOption = None) -> None:
    """List sessions, newest first."""
    from apps.cli import render

    with errors():
        rt = runtime(ctx, config, read_only=True)
        render.session_list(rt.store.sessions(), json_out=json_out)


from apps.cli.serve import serve_command  # noqa: E402 - imports only typer: `orch --help` stays fast

app.command(name="serve")(serve_command)

from apps.cli.notify import notify_command  # noqa: E402 - imports only typer

app.command(name="notify")(notify_command)


from apps.cli.telegram import telegram_command  # noqa: E402 - imports only typer: `orch --help` stays fast

app.command(name="telegram")(telegram_command)

from apps.cli.checkpoints import diff_command, rollback_command  # noqa: E402 - imports only typer

app.command(name="diff")(diff_command)
app.command(name="rollback")(rollback_command)

from apps.cli.worktrees import apply_command  # noqa: E402 - imports only typer

app.command(name="apply")(apply_command)

from apps.cli.explain import explain_command  # noqa: E402 - imports only typer

app.command(name="explain")(explain_command)

from apps.cli.calibrate import calibrate_command  # noqa: E402 - imports only typer

app.command(name="calibrate")(calibrate_command)
from apps.cli.temporal import worker_command  # noqa: E402 - imports only typer

app.command(name="worker")(worker_command)
from apps.cli.templates import init_command, templates_app  # noqa: E402 - imports only typer

app.add_typer(templates_app, name="templates")
app.command(name="init")(init_command)
from apps.cli.plan import plan_command  # noqa: E402 - imports only typer

app.command(name="plan")(plan_command)
from apps.cli.lessons import feedback_command, learn_from_feedback, lessons_app  # noqa: E402 - imports only typer

app.add_typer(lessons_app, name="lessons")
app.command(name="feedback")(feedback_command)

from apps.cli.doctor import backup_command, doctor_command  # noqa: E402 - imports only typer

app.command(name="doctor")(doctor_command)
app.command(name="backup")(backup_command)
from apps.cli.service import install_service_command  # noqa: E402 - imports only typer

app.command(name="install-service")(install_service_command)
from apps.cli.shell import shell_command  # noqa: E402 - imports only typer

app.command(name="shell")(shell_command)


def main() -> None:
    """Console-script entry point."""
    app()
