"""What the bot says: the shared command answers (``schema.SUCCESS``) and refusals as
chat text, a bold title and plain lines; the client escapes them."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import attrs

MAX_TASK_LINES = 30
STATE_MARKS = {
    "pending": "⏳",
    "running": "▶️",
    "waiting_approval": "✋",
    "waiting_answer": "❓",
    "waiting_review": "🔍",
    "completed": "✅",
    "failed": "❌",
    "skipped": "⏭",
    "interrupted": "⚠️",
    "cancelled": "🚫",
}

# the bot's commands, in the order /help lists them
CHAT_HELP: dict[str, str] = {
    "/start FILE [new] [auto]": "start a session from a task file (without FILE: list the files)",
    "/status": "where the session stands",
    "/approve [T]": "approve the waiting task",
    "/reject [T] [reason]": "reject the waiting task: it fails; one stopped for review runs again with the reason",
    "/pause": "a running task finishes, nothing new starts",
    "/resume": "continue a paused, halted or stopped session",
    "/skip T": "skip task T; tasks depending on it may run",
    "/retry T": "run the failed task T again",
    "/answer TEXT": "answer the question the waiting task asked",
    "/logs [T] [n]": "the last n lines of task T's log, or the session's events",
    "/report": "the session report",
    "/cancel": "cancel the session for good",
    "/help": "this list",
}


@attrs.frozen
class Reply:
    """One answer to a chat: a title (shown bold) and plain text."""

    title: str
    text: str = ""


def as_command(suggestion: str) -> str:
    """A suggestion of orchcore.service.suggestions ("approve 3 (then: resume)") as chat commands."""
    text = suggestion.replace("(then: resume)", "then /resume").replace('"..."', "TEXT")
    return "/" + text


def next_line(suggestions: list[str]) -> str:
    return "Next: " + "   ".join(as_command(s) for s in suggestions) if suggestions else ""


def progress(session: dict[str, Any], said: str = "") -> list[str]:
    """The session's state and every task with its state, as lines (the session's reason
    unless ``said`` already holds it)."""
    source = PurePath(str(session["source"])).name if session["source"] else ""
    head = f"Session {session['id']} · {session['state'].replace('_', ' ')}"
    lines = [head + (f" · {source}" if source else "")]
    if session["reason"] and str(session["reason"]) not in said:
        lines.append(str(session["reason"]))
    tasks: list[dict[str, Any]] = session["tasks"]
    for task in tasks[:MAX_TASK_LINES]:
        state = str(task["state"])
        line = f"{STATE_MARKS.get(state, '•')} {task['id']} {task['title']} — {state.replace('_', ' ')}"
        if task["blocked_by"]:
            line += f" (blocked: {task['blocked_by']} will not complete)"
        elif task["attempts"] > 1:
            line += f" (attempt {task['attempts']})"
        lines.append(line)
    if len(tasks) > MAX_TASK_LINES:
        lines.append(f"… and {len(tasks) - MAX_TASK_LINES} more tasks")
    waiting = session["waiting_for"]
    if waiting is not None:
        what = "an answer" if session["state"] == "waiting_answer" else "approval"
        lines.append(f"Task {waiting} waits for {what}.")
    return lines


def success(body: dict[str, Any]) -> Reply:
    """The answer to a command that was done."""
    lines: list[str] = []
    logs = body.get("logs")
    session = body.get("session")
    if body["command"] == "logs" and logs is not None:
        lines += list(logs["lines"]) or ["(empty)"]
    elif session is not None:
        lines += progress(session, str(body["message"]))
    suggestion = next_line(list(body.get("next") or []))
    if suggestion:
        lines += ["", suggestion]
    return Reply(str(body["message"]), "\n".join(lines).strip("\n"))


def refused(code: str, message: str, details: list[str] | None) -> Reply:
    """The answer to a command that was refused; nothing was changed."""
    lines = list(details or [])
    if code == "illegal_transition" and details:
        lines = ["Allowed now: " + "   ".join("/" + d for d in details)]
    return Reply(f"✗ {message}", "\n".join(lines))


def help_reply(task_files: list[str] | None = None) -> Reply:
    lines = [f"{usage} — {what}" for usage, what in CHAT_HELP.items()]
    lines += ["", "T is a task id; without it, the task that waits. Commands act on the newest session."]
    if task_files is not None:
        lines += ["", *files_lines(task_files)]
    return Reply("orch: commands", "\n".join(lines))


def files_lines(task_files: list[str]) -> list[str]:
    if not task_files:
        return ["No task files in the tasks directory yet."]
    return ["Task files:", *(f"/start {name}" for name in task_files)]
