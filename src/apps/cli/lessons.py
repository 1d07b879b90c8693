"""`orch lessons` (list, add, edit, rm) and `orch feedback [DATE]`: what the next prompts learn from
your feedback files. The parsing is orchcore.feedback; the files are read by apps.feedback_files.
Registered in apps.cli.main; imports happen inside."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from apps.cli.options import ConfigOption, JsonOption

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from apps.feedback_files import Imported
    from orchcore.ports.lessons import Lesson

lessons_app = typer.Typer(
    name="lessons",
    help="Lessons from your feedback files, told to the next prompts of their task type: list, add, edit, rm.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
TypeOption = Annotated[
    str | None, typer.Option("--type", "-t", help="A task type (backend, database, …); * for every type.")
]


def _data(lesson: "Lesson") -> dict[str, Any]:
    return {
        "id": lesson.id,
        "type": lesson.task_type,
        "text": lesson.text,
        "source": lesson.source,
        "day": lesson.day,
        "task": lesson.task_id or None,
        "created_at": lesson.created_at.isoformat(),
    }


def _show(lesson: "Lesson") -> str:
    from apps.cli.terminal import terminal_safe

    day = f", {lesson.day}" if lesson.day else ""
    return terminal_safe(
        f"{lesson.id:>4}  ({lesson.task_type}) {lesson.text}  [{lesson.source}{day}]", one_line=True
    )


def _print(data: Any) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@lessons_app.command("list")
def list_command(
    ctx: typer.Context,
    task_type: TypeOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Every lesson with its id, type and source (with --type: the ones a task of that type is told)."""
    from apps.cli.main import errors, runtime

    with errors():
        found = runtime(ctx, config, read_only=True).lesson_store().lessons(task_type)
    if json_out:
        _print([_data(x) for x in found])
        return
    if not found:
        typer.echo("no lessons yet: write `lesson (TYPE): text` lines in feedback/DATE.md (docs/feedback.md)")
        return
    for lesson in found:
        typer.echo(_show(lesson))


@lessons_app.command("add")
def add_command(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The lesson, one line.")],
    task_type: TypeOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Keep a lesson for the next prompts of --type (default: every type)."""
    from apps.cli.main import BAD_INPUT, errors, fail, runtime
    from orchcore.ports.lessons import NewLesson

    if not text.strip():
        fail(BAD_INPUT, "the lesson is empty: give its text")
    with errors():
        rt = runtime(ctx, config)
        now = rt.clock.now()
        kept = rt.lesson_store().add(NewLesson(task_type or "*", text, day=now.date().isoformat()), now)
    _print(_data(kept)) if json_out else typer.echo(f"kept: {_show(kept).strip()}")


@lessons_app.command("edit")
def edit_command(
    ctx: typer.Context,
    lesson_id: Annotated[int, typer.Argument(metavar="ID", help="The lesson's id (orch lessons list).")],
    text: Annotated[str | None, typer.Option("--text", help="The new text.")] = None,
    task_type: TypeOption = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Change a lesson's text or type; its source stays."""
    from apps.cli.main import BAD_INPUT, errors, fail, runtime

    if text is None and task_type is None:
        fail(BAD_INPUT, "nothing to change: give --text or --type")
    if text is not None and not text.strip():
        fail(BAD_INPUT, "--text is empty; to forget the lesson: orch lessons rm ID")
    with errors():
        edited = runtime(ctx, config).lesson_store().edit(lesson_id, text=text, task_type=task_type)
    _print(_data(edited)) if json_out else typer.echo(f"edited: {_show(edited).strip()}")


@lessons_app.command("rm")
def rm_command(
    ctx: typer.Context,
    lesson_id: Annotated[int, typer.Argument(metavar="ID", help="The lesson's id (orch lessons list).")],
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Forget a lesson (importing its feedback file again does not bring it back unless the file changes)."""
    from apps.cli.main import errors, runtime

    with errors():
        removed = runtime(ctx, config).lesson_store().remove(lesson_id)
    _print(_data(removed)) if json_out else typer.echo(f"removed: {_show(removed).strip()}")


def _imported_data(done: "Imported") -> dict[str, Any]:
    fb = done.feedback
    return {
        "file": done.file,
        "imported": done.added is not None,
        "lessons": [_data(x) for x in done.added or ()],
        "ratings": []
        if fb is None
        else [{"task": r.task_id, "good": r.good, "note": r.note} for r in fb.ratings],
        "notes": []
        if fb is None
        else [
            {"task": n.task_id or None, "worked": n.worked, "text": n.text, "line": n.line} for n in fb.notes
        ],
        "problems": [
            {"file": p.file, "line": p.line, "field": p.field, "message": p.message} for p in done.problems
        ],
        "error": done.error or None,
    }


def feedback_command(
    ctx: typer.Context,
    day: Annotated[
        str | None, typer.Argument(help="The day (feedback/DAY.md; default today) or the file's path.")
    ] = None,
    json_out: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Read feedback/DATE.md: its ratings and notes, and its lessons kept for the next prompts of their type."""
    from apps.cli.main import BAD_INPUT, errors, fail, runtime
    from apps.cli.render import problems
    from apps.feedback_files import feedback_folder, import_file

    with errors():
        rt = runtime(ctx, config)
        name = day or rt.clock.now().astimezone().date().isoformat()
        given = Path(name)
        path = given if given.suffix == ".md" else feedback_folder(rt.settings) / f"{name}.md"
        if not path.is_file():
            fail(BAD_INPUT, f"no feedback file {path} (write it first: docs/feedback.md)")
        done = import_file(rt.lesson_store(), path, rt.clock)
    if json_out:
        _print(_imported_data(done))
    elif done.problems:
        problems(done.problems)
    if done.error:
        fail(BAD_INPUT, done.error)
    if done.problems:
        if not json_out:
            typer.echo(f"orch: nothing was imported from {done.file}", err=True)
        raise typer.Exit(BAD_INPUT)
    if json_out:
        return
    fb = done.feedback
    if fb is not None:
        for rating in fb.ratings:
            note = f" — {rating.note}" if rating.note else ""
            typer.echo(f"rating: task {rating.task_id} {'good' if rating.good else 'bad'}{note}")
        for item in fb.notes:
            about = f" ({item.task_id})" if item.task_id else ""
            typer.echo(f"{'worked' if item.worked else 'did not work'}{about}: {item.text}")
    if done.added is None:
        typer.echo(f"{done.file} was imported before as it is: no new lessons")
        return
    for lesson in done.added:
        typer.echo(f"kept: {_show(lesson).strip()}")
    count = len(done.added)
    typer.echo(
        f"{done.file}: {count} new lesson{'s' if count != 1 else ''}; the next prompts of their type carry them"
        + ("; ratings also label `orch calibrate`" if fb is not None and fb.ratings else "")
    )


def learn_from_feedback(rt: "Runtime") -> None:
    """At the start of a run: keep the lessons of every feedback file that is new or changed, saying
    so on stderr; a file with problems is skipped with its problems (the run goes on)."""
    from apps.cli.terminal import terminal_safe
    from apps.feedback_files import import_new_feedback

    for done in import_new_feedback(rt.lesson_store(), rt.settings, rt.clock):
        if done.error:
            typer.echo(f"orch: feedback skipped: {done.error}", err=True)
        elif done.problems:
            for problem in done.problems:
                typer.echo(terminal_safe(f"orch: feedback skipped: {problem}", one_line=True), err=True)
        elif done.added:
            count = len(done.added)
            typer.echo(f"learnt {count} lesson{'s' if count != 1 else ''} from {done.file}", err=True)
