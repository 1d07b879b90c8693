"""Answers written to ``questions/TASK-answer.md`` picked up, and `orch run --wait`: a run that waits
for a human goes on by itself once the answer or approval arrives (a file, `orch answer`, the phone).

Which written answers count is orchcore.questions (pure); this module reads the box, applies the
ANSWER command through the store, and waits (the question files watched by the FileWatcher port,
the store re-read each poll). Imported inside the commands of apps.cli.main.
"""

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from orchcore.ports.agent import Agent
    from orchcore.ports.file_watch import Watching

POLL_S = 0.25  # how often the watcher's changes are taken (it never blocks)
STORE_EVERY = 4  # the store is re-read every this many polls (an answer or approval from elsewhere)


def pick_up_written_answers(rt: "Runtime", session_id: str) -> dict[str, str]:
    """Give each task waiting for an answer the one the user wrote in its answer file since it asked
    (the ANSWER command, source ``file``), saying so; the answers given, by task id."""
    from orchcore.questions import answers_to_pick_up, waiting_for_answer
    from orchcore.service import send_command
    from orchcore.state import Command
    from orchcore.tasks import file_stem

    waiting = waiting_for_answer(rt.store.load(session_id))
    if not waiting:
        return {}
    box = rt.question_box()
    written = {task_id: found for task_id in waiting if (found := box.written_answer(task_id)) is not None}
    picked = answers_to_pick_up(waiting, written)
    for task_id, text in picked.items():
        send_command(
            rt.store,
            session_id,
            Command.ANSWER,
            rt.clock,
            task_id=task_id,
            text=text,
            source="file",
            routing=rt.routing,
        )
        typer.echo(
            f"task {task_id}: your answer was read from questions/{file_stem(task_id)}-answer.md", err=True
        )
    return picked


def _watch(rt: "Runtime") -> "Watching | None":
    watcher = rt.answer_watcher()
    if watcher is None:
        return None
    folder = rt.settings.path(rt.settings.paths.workdir) / "questions"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return watcher.watch(str(folder))
    except Exception:  # noqa: BLE001 - inotify limits and the like: the files are read each poll instead
        return None


def wait_for_human(rt: "Runtime", session_id: str) -> bool:
    """Wait until the session no longer waits for a human (an answer file, a command from anywhere):
    True; False when the user stops waiting (Ctrl-C) — the session stays as it is."""
    from orchcore.questions import waits_for_human

    watching = _watch(rt)
    polls = 0
    try:
        while True:
            changed = watching.take() if watching is not None else ()
            answer_written = watching is None or any(c.path.endswith("-answer.md") for c in changed)
            if answer_written and pick_up_written_answers(rt, session_id):
                return True
            if polls % STORE_EVERY == 0 and not waits_for_human(rt.store.session(session_id).state):
                return True
            polls += 1
            rt.clock.sleep(POLL_S)
    except KeyboardInterrupt:
        typer.echo("\norch: stopped waiting; the session still waits (orch status says for what)", err=True)
        return False
    finally:
        if watching is not None:
            watching.close()


def drive_until_done(rt: "Runtime", agent: "Agent", session_id: str, *, verbose: bool) -> None:
    """`--wait`: while the session waits for a human, wait for the answer or approval, then resume it."""
    from apps.cli.main import drive
    from orchcore.errors import IllegalTransition, SessionBusy
    from orchcore.questions import waits_for_human
    from orchcore.service import resume_session

    while waits_for_human(rt.store.session(session_id).state):
        typer.echo(
            "waiting for you (--wait): answer in questions/TASK-answer.md, or `orch answer`/`orch approve` "
            "from any shell or your phone; Ctrl-C stops waiting",
            err=True,
        )
        if not wait_for_human(rt, session_id):
            return
        try:
            resume_session(rt.store, session_id, rt.clock, routing=rt.routing)
        except (IllegalTransition, SessionBusy) as exc:  # paused, cancelled, or another engine took it
            typer.echo(f"orch: not continuing here: {exc}", err=True)
            return
        drive(rt, agent, session_id, verbose=verbose)
