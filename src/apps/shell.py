"""`orch shell`: an interactive prompt with the bot's commands, run through the same use cases.

Each line is read as the Telegram bot reads a message (``approve 3``, ``answer Postgres``,
``logs 2 80``: :func:`apps.telegram.bot.to_request`) and executed by :class:`apps.commands.Commands`
with an engine thread of the shell's own, so what the shell does is what the bot and the
webhook do. Tab completes commands, task ids (of the session in use) and session ids; the
prompt is the status line (session, state, what waits); history persists in the state dir.
"""

from __future__ import annotations

import cmd
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from apps.commands import CommandError, Commands, from_orch_error, task_files
from apps.telegram.bot import ChatCommand, to_request
from apps.telegram.replies import progress
from apps.web import schema
from orchcore.errors import OrchError

if TYPE_CHECKING:
    from apps.bootstrap import Runtime

log = logging.getLogger("apps.shell")

HISTORY_FILE = "shell_history"
HISTORY_LINES = 1000
LIVE_S = 0.5  # how often the prompt's status line is brought up to date while it waits
TASK_COMMANDS = frozenset({"approve", "reject", "skip", "retry", "logs", "answer"})
SESSION_COMMANDS = frozenset({"status", "pause", "resume", "cancel", "report", "use"})
USAGE = {
    "start": "start FILE [new] [auto]",
    "status": "status [SESSION]",
    "approve": "approve [TASK]",
    "reject": "reject [TASK] [REASON]",
    "pause": "pause [SESSION]",
    "resume": "resume [SESSION]",
    "skip": "skip TASK",
    "retry": "retry TASK",
    "cancel": "cancel [SESSION]",
    "answer": "answer TEXT",
    "logs": "logs [TASK] [LINES]",
    "report": "report",
    "sessions": "sessions",
    "budget": "budget",
    "use": "use SESSION",
    "quit": "quit",
}
SHELL_ONLY = {
    "sessions": "List the sessions, newest first.",
    "budget": "Today's spend across all sessions against the daily limit (as `orch budget`).",
    "use": "Act on this session from now on (default: the newest).",
    "quit": "Leave the shell (Ctrl-D too); a session the shell drives goes on at `orch resume`.",
}


class OrchShell(cmd.Cmd):
    """The prompt. ``commands`` runs what is typed; ``out`` is where answers go."""

    intro = "orch shell: `help` lists the commands, Tab completes, Ctrl-D leaves."

    def __init__(
        self,
        commands: Commands,
        *,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        live_s: float = LIVE_S,
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.commands = commands
        self.session: str | None = None
        self.live_s = live_s
        self._busy = False
        self._watch: threading.Event | None = None
        self._write = threading.Lock()
        self.prompt = self._shown = self.status_line()

    # -- the status line -----------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        return self.commands.runtime

    def current(self) -> str | None:
        """The session commands act on: the one in use, else the newest."""
        if self.session is not None:
            return self.session
        newest = self.runtime.store.sessions()
        return newest[0].id if newest else None

    def status_line(self) -> str:
        sid = self.current()
        if sid is None:
            return "orch (no session) > "
        try:
            s = self.runtime.store.session(sid)
        except OrchError:
            return "orch (?) > "
        waits = f" task {s.waiting_for}" if s.waiting_for else ""
        driving = " *" if self.commands.driver.driving() == sid else ""
        return f"orch {sid[:8]} {s.state.value}{waits}{driving} > "

    def precmd(self, line: str) -> str:
        self._busy = True
        return line

    def postcmd(self, stop: bool, line: str) -> bool:
        self.prompt = self.status_line()
        self._shown = self.prompt
        self._busy = False
        return stop

    def preloop(self) -> None:
        self._busy = False
        self._shown = self.prompt
        if self.live_s > 0 and self.stdout.isatty():
            self._watch = threading.Event()
            threading.Thread(
                target=self._live, args=(self._watch,), name="orch-shell-status", daemon=True
            ).start()

    def postloop(self) -> None:
        if self._watch is not None:
            self._watch.set()

    def _live(self, stop: threading.Event) -> None:
        """While the prompt waits for a line, redraw it when the session's state changes (the
        engine runs in the background): the status line stays live without typing."""
        while not stop.wait(self.live_s):
            if self._busy:
                continue
            try:
                line = self.status_line()
            except Exception:  # a status read that fails waits for the next tick
                log.debug("shell status line not read", exc_info=True)
                continue
            if line == self._shown or self._busy:
                continue
            self._shown = self.prompt = line
            typed = _typed()
            with self._write:
                self.stdout.write(f"\r\x1b[K{line}{typed}")
                self.stdout.flush()

    def emptyline(self) -> bool:
        return False  # an empty line repeats nothing (cmd's default would repeat the last command)

    # -- running commands ----------------------------------------------------------------

    def say(self, text: str) -> None:
        with self._write:
            self.stdout.write(text.rstrip("\n") + "\n")
            self.stdout.flush()

    def run(self, name: str, args: str) -> None:
        """Run one bot command as typed, and show the answer or why it was refused."""
        try:
            command, params = to_request(ChatCommand(name, args), self._task_ids)
            if command not in ("start", "help") and "session" not in params and self.session:
                params["session"] = self.session
            body = self.commands.execute(command, params)
        except CommandError as exc:
            self._refused(exc)
            return
        except OrchError as exc:
            self._refused(from_orch_error(exc))
            return
        if command == "start" and body["session"]:
            self.session = body["session"]["id"]
        self.say(render(body))

    def _refused(self, exc: CommandError) -> None:
        message = exc.message.replace("usage: /", "usage: ").replace("/help", "help")
        lines = [f"refused: {message}"]
        if exc.code == "illegal_transition" and exc.details:
            lines.append("allowed now: " + "   ".join(exc.details))
        elif exc.details:
            lines += exc.details
        self.say("\n".join(lines))

    def _task_ids(self) -> list[str]:
        sid = self.current()
        if sid is None:
            return []
        try:
            return list(self.runtime.store.load(sid).plan.ids)
        except OrchError:
            return []

    def _session_ids(self) -> list[str]:
        return [s.id for s in self.runtime.store.sessions()]

    def default(self, line: str) -> None:
        name = line.split(maxsplit=1)[0]
        self.say(f"unknown command {name!r}; `help` lists the commands")

    def do_help(self, arg: str) -> None:
        """help [COMMAND]: what each command does."""
        if arg.strip() in USAGE:
            name = arg.strip()
            self.say(f"{USAGE[name]} — {schema.COMMANDS.get(name) or SHELL_ONLY[name]}")
            return
        lines = [f"{USAGE[n]:<24} {schema.COMMANDS.get(n) or SHELL_ONLY[n]}" for n in USAGE]
        lines += ["", "TASK: a task id (Tab completes); without it, the task that waits."]
        self.say("\n".join(lines))

    def do_sessions(self, _: str) -> None:
        found = self.runtime.store.sessions()
        if not found:
            self.say("no sessions yet: start FILE")
            return
        self.say("\n".join(f"{s.id}  {s.state.value:<18} {Path(s.source or '').name}" for s in found[:20]))

    def do_budget(self, _: str) -> None:
        from apps.cli import render
        from orchcore.service import budget_report

        rt = self.runtime
        with self._write:
            render.budget(budget_report(rt.store, rt.settings.budget_policy(), rt.clock), json_out=False)

    def do_use(self, arg: str) -> None:
        from orchcore.service import resolve_session

        if not arg.strip():
            self.say(f"usage: {USAGE['use']}")
            return
        try:
            self.session = resolve_session(self.runtime.store, arg.strip())
        except OrchError as exc:
            self._refused(from_orch_error(exc))
            return
        self.say(f"using session {self.session}")

    def do_quit(self, _: str) -> bool:
        return True

    do_exit = do_quit

    def do_EOF(self, _: str) -> bool:  # noqa: N802 - the name cmd calls on Ctrl-D
        self.say("")
        return True

    # -- completion ----------------------------------------------------------------------

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return [n + " " for n in USAGE if n.startswith(text)]

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        words = line[:begidx].split()
        if len(words) != 1:  # only the first argument is an id
            return []
        name = words[0]
        if name in TASK_COMMANDS:
            found = self._task_ids()
        elif name in SESSION_COMMANDS:
            found = self._session_ids()
        elif name == "start":
            found = task_files(self.runtime.settings)
        else:
            found = []
        return [f + " " for f in found if f.startswith(text)]


def _command(name: str) -> Callable[[OrchShell, str], None]:
    def do(self: OrchShell, args: str) -> None:
        self.run(name, args)

    do.__doc__ = f"{USAGE[name]}: {schema.COMMANDS[name]}"
    return do


for _name in schema.COMMANDS:
    if _name != "help":
        setattr(OrchShell, f"do_{_name}", _command(_name))


def _typed() -> str:
    """What the user has typed on the prompt so far (to redraw it), "" without readline."""
    try:
        import readline
    except ImportError:
        return ""
    return readline.get_line_buffer()


def render(body: dict[str, Any]) -> str:
    """A command's answer as the shell shows it: what was done, the session, what to do next."""
    lines = [str(body["message"])]
    if body["command"] == "logs" and body.get("logs") is not None:
        lines += list(body["logs"]["lines"]) or ["(empty)"]
    elif body["command"] == "report":
        pass  # the message is the report
    elif body.get("session") is not None:
        lines += progress(body["session"], str(body["message"]))
    suggestions = list(body.get("next") or [])
    if suggestions:
        lines.append("next: " + "   ".join(suggestions))
    return "\n".join(lines)


@contextlib.contextmanager
def history(path: Path) -> Iterator[None]:
    """Load readline's history from ``path`` and save it back at the end (no readline: no history)."""
    try:
        import readline
    except ImportError:  # Python built without readline: the prompt still works, without history
        yield
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LINES)
    # ids contain '-' and file names '.' and '/': only spaces separate words to complete
    readline.set_completer_delims(" \t\n")
    try:
        yield
    finally:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)
        except OSError as exc:
            log.warning("shell history not saved to %s: %s", path, exc)
