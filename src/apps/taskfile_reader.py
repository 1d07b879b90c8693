"""Reading a task file: regular files only, never more than a task file can be, decoded by orchcore's rule.

Shared by the CLI and the webhook app, so both refuse a FIFO, ``/dev/zero`` or a cp1252 file
the same way: a located problem, exit 2 or a 4xx, nothing changed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from orchcore.errors import Problem, TaskFileError
from orchcore.taskfile import context_problems, parse_task_bytes
from orchcore.tasks import Plan

#: The largest task file read: ten thousand tasks are under 1 MiB, so this is never a real file's limit.
MAX_TASK_FILE_BYTES = 10 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_task_file(path: str, *, name: str | None = None, limit: int = MAX_TASK_FILE_BYTES) -> bytes:
    """The bytes of the regular file at ``path``; TaskFileError for anything else or anything larger.

    Opened non-blocking and checked with fstat before reading, so a FIFO or ``/dev/zero``
    is refused at once instead of hanging or filling memory. OSError (missing, no
    permission) is the caller's to report. Problems name the file as ``name`` (default ``path``).
    """
    shown = path if name is None else name
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise TaskFileError([Problem(shown, 1, "file", f"is {kind}, expected a regular text file")])
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise TaskFileError(
            [Problem(shown, 1, "file", f"is larger than {limit // (1024 * 1024)} MiB, expected a task file")]
        )
    return data


def read_plan(path: str, name: str | None = None, workdir: str | None = None) -> Plan:
    """The validated plan in the task file at ``path`` (problems name it as ``name``, default the path);
    with ``workdir``, every context file a task names must be a file there."""
    shown = path if name is None else name
    check = None if workdir is None else context_file_check(workdir)
    return parse_task_bytes(read_task_file(path, name=shown), shown, check)


def context_file_check(workdir: str) -> Callable[[str], str | None]:
    """Why a context file cannot be given to an agent working in ``workdir``, or None."""
    root = Path(workdir).resolve()

    def problem(path: str) -> str | None:
        full = (root / path).resolve()
        if not full.is_relative_to(root):
            return f"is outside the workspace {workdir}, expected a path inside it"
        if not full.exists():
            return f"does not exist in the workspace {workdir}, expected a file there"
        if not full.is_file():
            return "is not a regular file, expected a text file"
        return None

    return problem


def check_context_files(plan: Plan, name: str, workdir: str) -> None:
    """TaskFileError listing every context file of ``plan`` that is not a file in ``workdir``."""
    yaml = name.lower().endswith((".yaml", ".yml"))
    problems = context_problems(plan, name, context_file_check(workdir), yaml=yaml)
    if problems:
        raise TaskFileError(problems)
