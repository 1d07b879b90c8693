"""`orch diff` and `orch rollback`: what a task changed in the workspace, and undoing it.

Both read the checkpoints orch takes before and after every attempt (a shadow git
directory under the state dir). Registered in apps.cli.main; imports happen
inside, so `orch --help` stays fast.
"""

from typing import Annotated

import typer

TaskArgument = Annotated[str, typer.Argument(help="Task id.")]
SessionOpt = Annotated[
    str | None, typer.Option("--session", "-s", help="Session id or a unique prefix (default: the newest).")
]
ConfigOpt = Annotated[
    str | None, typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG).")
]


def diff_command(
    ctx: typer.Context,
    task: TaskArgument,
    session: SessionOpt = None,
    stat: Annotated[bool, typer.Option("--stat", help="Only a diffstat: files and lines changed.")] = False,
    latest: Annotated[
        bool, typer.Option("--latest", help="Only the latest attempt (default: from before the first).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (with the file list).")] = False,
    config: ConfigOpt = None,
) -> None:
    """Show what TASK changed: a unified diff from the checkpoint before its first attempt to the
    one after its latest (or to the workspace now, while it runs); for a task that ran in its own
    worktree (max_parallel above 1), the commit on its branch against its base."""
    from apps.cli.main import NOT_FOUND, OK, errors, fail, runtime
    from orchcore.checkpoints import task_span
    from orchcore.service import resolve_session

    with errors():
        rt = runtime(ctx, config)
        sid = resolve_session(rt.store, session)
        if task not in rt.store.load(sid).plan.ids:
            fail(NOT_FOUND, f"no task {task!r} in session {sid}")
        from apps.cli.worktrees import show_worktree_diff

        if show_worktree_diff(rt, sid, task, stat=stat, json_out=json_out):  # it ran in its own worktree
            raise typer.Exit(OK)
        checkpoints = rt.checkpoints()
        before, after = task_span(checkpoints.checkpoints(sid), task, latest=latest)
        if json_out:
            changes = checkpoints.changes(before, after)
            status = {(True, False): "added", (False, True): "deleted"}
            files = [
                {"path": c.path, "status": status.get((c.before is None, c.after is None), "modified")}
                for c in changes
            ]
            payload = {
                "session": sid,
                "task": task,
                "from": {"checkpoint": before.id, "attempt": before.attempt},
                "to": None if after is None else {"checkpoint": after.id, "attempt": after.attempt},
                "files": files,
                "diff": checkpoints.diff(before, after, stat=stat),
            }
            import json

            typer.echo(json.dumps(payload, indent=2))
            raise typer.Exit(OK)
        text = checkpoints.diff(before, after, stat=stat)
    target = "the workspace now" if after is None else f"after attempt {after.attempt}"
    typer.echo(f"# task {task}: before attempt {before.attempt} -> {target}", err=True)
    typer.echo(text.rstrip("\n") if text.strip() else "(no changes)")
    raise typer.Exit(OK)


def rollback_command(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Argument(help="Task id (omit with --to-start).")] = None,
    to_start: Annotated[
        bool, typer.Option("--to-start", help="Undo the whole session: back to before its first task.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    session: SessionOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Put the workspace back as it was before TASK (and every task after it): files the tasks
    wrote or deleted come back, files they created go, refs and HEAD are restored. Refused,
    naming the files, if you edited any of them since; ignored files are never touched."""
    from apps.cli.main import BAD_INPUT, NOT_FOUND, OK, WRONG_STATE, errors, fail, runtime
    from orchcore.checkpoints import plan_rollback, roll_back
    from orchcore.errors import CheckpointError
    from orchcore.service import resolve_session

    if task is None and not to_start:
        fail(BAD_INPUT, "name the task to roll back, or pass --to-start for the whole session")
    with errors():
        rt = runtime(ctx, config)
        sid = resolve_session(rt.store, session)
        if task is not None and task not in rt.store.load(sid).plan.ids:
            fail(NOT_FOUND, f"no task {task!r} in session {sid}")
        owner = f"rollback-{rt.ids.new_id()}"
        rt.store.acquire_lease(sid, owner)  # SessionBusy while an engine drives the session
        try:
            checkpoints = rt.checkpoints()
            try:
                plan = plan_rollback(checkpoints, sid, None if to_start else task)
            except CheckpointError as exc:
                fail(WRONG_STATE, str(exc))
            if plan.conflicts:
                fail(
                    WRONG_STATE,
                    "rollback refused: you changed these since the task ended: "
                    f"{', '.join(plan.conflicts)}; commit or move your edits away first. Nothing was changed",
                )
            what = "the whole session" if to_start else f"task {task}"
            undone = ", ".join(plan.tasks)
            typer.echo(
                f"Roll back {what} (undoes: {undone}): {len(plan.paths)} file(s) and {len(plan.refs)} ref(s) "
                f"as before attempt {plan.target.attempt} of {plan.target.task_id}.",
                err=True,
            )
            for name in (*plan.refs, *plan.paths):
                typer.echo(f"  {name}", err=True)
            if not yes:
                try:
                    confirmed = typer.confirm("Proceed?", default=False, err=True)
                except typer.Abort:
                    fail(WRONG_STATE, "rollback needs a confirmation: pass --yes to roll back without asking")
                if not confirmed:
                    fail(WRONG_STATE, "rollback not confirmed; nothing was changed")
            try:
                restored = roll_back(checkpoints, plan)
            except CheckpointError as exc:
                fail(WRONG_STATE, str(exc))
        finally:
            rt.store.release_lease(sid, owner)
    typer.echo(f"rolled back {what}: {len(restored)} restored" + "".join(f"\n  {line}" for line in restored))
    raise typer.Exit(OK)
