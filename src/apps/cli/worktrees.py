"""`orch apply` and the worktree half of `orch diff`: a parallel task's branch, reviewed and
brought into your tree. Registered in apps.cli.main; imports happen inside, so `orch --help`
stays fast."""

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from apps.bootstrap import Runtime

TaskArgument = Annotated[str, typer.Argument(help="Task id.")]
SessionOpt = Annotated[
    str | None, typer.Option("--session", "-s", help="Session id or a unique prefix (default: the newest).")
]
ConfigOpt = Annotated[
    str | None, typer.Option("--config", "-c", help="Config file (default: ./orch.yaml, or $ORCH_CONFIG).")
]


def show_worktree_diff(rt: "Runtime", sid: str, task: str, *, stat: bool, json_out: bool) -> bool:
    """Print the commit on the task's branch against its base when the task ran in a worktree;
    False (nothing printed) when it ran in your tree, so `orch diff` shows its checkpoints."""
    import json

    from apps.cli.main import WRONG_STATE, fail
    from orchcore.errors import WorktreeError

    try:
        worktrees = rt.worktrees()
        tree = worktrees.find(sid, task)
        if tree is None:
            return False
        text = worktrees.diff(tree, stat=stat)
        files = list(worktrees.files(tree)) if json_out else []
    except WorktreeError as exc:
        fail(WRONG_STATE, f"task {task}'s worktree: {exc}")
    if json_out:
        payload = {"session": sid, "task": task, "branch": tree.branch, "base": tree.base, "files": files}
        typer.echo(json.dumps({**payload, "diff": text}, indent=2))
        return True
    typer.echo(f"# task {task}: branch {tree.branch} against its base {tree.base[:12]}", err=True)
    typer.echo(text.rstrip("\n") if text.strip() else "(no changes)")
    return True


def apply_command(
    ctx: typer.Context,
    task: TaskArgument,
    session: SessionOpt = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the task's worktree and branch after applying.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON: files applied or in conflict.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Bring a parallel task's change (the commit on its branch orch/<session>/<task>) into your
    working tree, uncommitted, then remove its worktree and branch. If it conflicts with your
    tree, nothing is changed and the conflicting files are named."""
    import json

    from apps.cli.main import NOT_FOUND, OK, WRONG_STATE, errors, fail, runtime
    from orchcore.errors import WorktreeError
    from orchcore.parallel import task_commit_message
    from orchcore.service import resolve_session
    from orchcore.state import TaskState

    with errors():
        rt = runtime(ctx, config)
        sid = resolve_session(rt.store, session)
        snap = rt.store.load(sid)
        if task not in snap.plan.ids:
            fail(NOT_FOUND, f"no task {task!r} in session {sid}")
        worktrees = rt.worktrees()
        tree = worktrees.find(sid, task)
        if tree is None:
            fail(
                WRONG_STATE,
                f"task {task} of session {sid} has no worktree: it ran in your tree (max_parallel: 1), "
                "or was applied or cancelled already; nothing was changed",
            )
        state = snap.run(task).state
        if state is not TaskState.COMPLETED:
            fail(WRONG_STATE, f"task {task} is {state.value}, not completed: nothing to apply yet")
        owner = f"apply-{rt.ids.new_id()}"
        rt.store.acquire_lease(sid, owner)  # SessionBusy while an engine drives the session
        try:  # a change orch had not recorded yet (it stopped after the task) is recorded first
            worktrees.commit(tree, task_commit_message(sid, snap.plan.task(task)))
            applied = worktrees.apply(tree)
            if applied.ok and not keep:
                worktrees.remove(tree)
        except WorktreeError as exc:
            fail(WRONG_STATE, f"task {task}: {exc}")
        finally:
            rt.store.release_lease(sid, owner)
    removed = applied.ok and not keep
    if json_out:
        payload = {
            "session": sid,
            "task": task,
            "branch": tree.branch,
            "applied": applied.ok,
            "files": list(applied.files),
            "conflicts": list(applied.conflicts),
            "removed": removed,
        }
        typer.echo(json.dumps(payload, indent=2))
        raise typer.Exit(OK if applied.ok else WRONG_STATE)
    if not applied.ok:
        fail(
            WRONG_STATE,
            f"task {task} does not apply to your tree: {', '.join(applied.conflicts)} conflict(s) with your "
            f"changes. Nothing was changed; see `orch diff {task}`, or merge branch {tree.branch} yourself",
        )
    where = (
        f"; its worktree and branch {tree.branch} are removed" if removed else f"; branch {tree.branch} kept"
    )
    if not applied.files:
        typer.echo(f"task {task} changed nothing{where}")
    else:
        typer.echo(f"applied task {task} to your tree (not committed): {len(applied.files)} file(s){where}")
        for name in applied.files:
            typer.echo(f"  {name}")
    raise typer.Exit(OK)
