"""What a command really runs: ``sudo git push`` runs git, ``bash -c '...'`` runs shell text.

Internal to ``orchcore.safety``. ``inner_command`` knows the wrappers an agent
may put in front of a forbidden command (privilege, environment, timing,
package runners, interpreters); the shell scanner checks what comes out.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence

import attrs

from orchcore.safety.arguments import Expanded, assignments, joined, option_value, skip_options


@attrs.frozen
class Runs:
    """The wrapper runs ``argv``, with ``env`` added, maybe in directory ``chdir``."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = attrs.field(factory=dict)
    chdir: str | None = None


@attrs.frozen
class RunsText:
    """The wrapper runs shell text (``bash -c``, ``eval``, ``env -S``); none: nothing visible runs."""

    texts: tuple[str, ...] = ()


SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "busybox"})


def _options(table: Mapping[str, str]) -> Mapping[str, frozenset[str]]:
    return {name: frozenset(opts.split()) for name, opts in table.items()}


WRAPPERS: Mapping[str, frozenset[str]] = _options(
    {
        "sudo": "-u -g -h -p -C -D -r -t -T -U --user --group --host --prompt --chdir --role --type",
        "doas": "-u -C",
        "nohup": "",
        "setsid": "",
        "chronic": "",
        "unbuffer": "",
        "nice": "-n --adjustment",
        "ionice": "-c -n -p --class --classdata",
        "stdbuf": "-i -o -e",
        "time": "-f -o --format --output",
        "exec": "-a",
        "command": "",
        "builtin": "",
        "xargs": "-I -n -L -P -s -d -E -a --arg-file --delimiter --max-args --max-lines --max-procs",
        "strace": "-o -e -p -s -u -E -a -b -I -O -S -P -X",
        "ltrace": "-o -e -p -s -u -E -a -n",
        "npx": "-p --package",
        "bunx": "-p --package",
        "pnpx": "",
        "uvx": "--from --with --python -p --with-requirements --with-editable",
        "timeout": "-s -k --signal --kill-after",
        "flock": "-w --timeout -E --conflict-exit-code",
        "coproc": "",
    }
)
"""Programs that run the command after their options, with the options that take a value."""

_RUNNER_OPTIONS = _options(
    {
        "npm": "-p --package -w --workspace",
        "pnpm": "-C --dir --filter -F",
        "yarn": "-p --package --cwd",
        "bun": "--cwd",
        "uv": "--with --python -p --project --directory --env-file --extra --group --package",
        "poetry": "-C --directory -P --project",
        "pipenv": "",
        "pdm": "-p --project",
        "hatch": "-e --env",
        "rye": "",
        "pipx": "--spec --python",
        "conda": "-n --name -p --prefix --cwd",
        "bundle": "",
    }
)
_RUNNER_SUBCOMMANDS: Mapping[str, frozenset[str]] = {
    "npm": frozenset({"exec", "x"}),
    "pnpm": frozenset({"exec", "dlx", "run"}),
    "yarn": frozenset({"exec", "dlx", "run"}),
    "bun": frozenset({"x", "run"}),
    "bundle": frozenset({"exec"}),
}
_RUNS_BINS_DIRECTLY = frozenset({"pnpm", "yarn", "bun"})  # `pnpm prisma ...` runs the prisma bin
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$|^pypy3?$")


def bin_name(word: str) -> str:
    """``supabase@1.2.3`` or ``@prisma/cli@5`` (as ``npx`` takes them) -> the bin's name."""
    name = posixpath.basename(word)
    name = re.sub(r"(?<=.)@[^/@]*$", "", name) if "@" in name else name
    return Expanded(name) if isinstance(word, Expanded) else name  # still only known at run time


def inner_command(program: str, args: Sequence[str], stdin: Sequence[str]) -> Runs | RunsText | None:
    """What ``program args`` runs if it is a wrapper, or None if it runs itself.

    ``stdin`` is shell text fed to it (a here-string, ``echo ... |``), which a
    shell without ``-c`` or a script runs.
    """
    if program in SHELLS:
        return _shell(args[1:] if program == "busybox" and args[:1] == ["sh"] else args, stdin)
    if program == "eval":
        return RunsText((joined(args),))
    if program in ("source", "."):
        return _script(args[:1])
    if program == "trap":
        i = skip_options(args, set())
        return RunsText(tuple(args[i : i + 1]))  # the handler is shell text the shell runs later
    if program == "parallel":
        return _parallel(args)
    if program == "env":
        return _env(args)
    if program in ("command", "builtin") and any(a in ("-v", "-V") for a in args[:2]):
        return RunsText()  # a lookup, not a run
    if program == "su":
        return _text_option(args, "-c", "--command")
    if program == "watch":
        return RunsText((joined(args[skip_options(args, {"-n", "--interval", "-d", "-g"}) :]),))
    if program in ("npx", "pnpx", "bunx", "npm") and any(a in ("-c", "--call") for a in args):
        return _text_option(args, "-c", "--call")
    if program in WRAPPERS:
        return _wrapper(program, args)
    if program in _RUNNER_OPTIONS and args:
        return _runner(program, args)
    if _PYTHON.match(program):
        return _python(args)
    return None


def _text_option(args: Sequence[str], short: str, long: str) -> RunsText:
    text = option_value(args, short, long)
    return RunsText(() if text is None else (text,))


def _wrapper(program: str, args: Sequence[str]) -> Runs | RunsText:
    i = skip_options(args, WRAPPERS[program])
    if program == "flock" and i + 1 < len(args) and args[i + 1] in ("-c", "--command"):
        return RunsText((joined(args[i + 2 :]),))
    if program in ("timeout", "flock"):
        i += 1  # the duration, or the lock file
    extra, i = assignments(args, i)
    chdir = option_value(args[:i], "-D", "--chdir") if program == "sudo" else None
    if i >= len(args):
        return Runs(("echo",)) if program == "xargs" else RunsText()
    argv = [bin_name(args[i]), *args[i + 1 :]]
    marker = option_value(args[:i], "-I", "--replace") if program == "xargs" else None
    if marker:  # `xargs -I{} git {}`: the words come from stdin at run time
        argv = [Expanded(w) if marker in w else w for w in argv]
    return Runs(tuple(argv), extra, chdir)


def _script(args: Sequence[str]) -> RunsText:
    """A script file: not visible from here (the shims and git hooks still apply), unless it is
    ``<(...)`` or a variable: then its text is only known at run time."""
    return RunsText(tuple(a for a in args[:1] if isinstance(a, Expanded)))


_PARALLEL_OPTIONS = frozenset(
    ["-j", "--jobs", "-S", "--sshlogin", "-a", "--arg-file", "--delay", "--timeout", "-N", "-n", "-d"]
)


def _parallel(args: Sequence[str]) -> Runs | RunsText:
    """GNU parallel runs its command with the arguments after ``:::`` (or from stdin) put in."""
    i = skip_options(args, _PARALLEL_OPTIONS)
    end = next((j for j in range(i, len(args)) if args[j].startswith(":::")), len(args))
    command = list(args[i:end])
    if not command:
        return RunsText()
    filled = [Expanded(w) if "{" in w else w for w in command]
    if filled == command:
        filled.append(Expanded("{}"))
    return Runs((bin_name(filled[0]), *filled[1:]))


def _runner(program: str, args: Sequence[str]) -> Runs | RunsText | None:
    value_opts = _RUNNER_OPTIONS[program]
    i = skip_options(args, value_opts)
    if i < len(args) and args[i] in _RUNNER_SUBCOMMANDS.get(program, frozenset({"run"})):
        i = skip_options(args, value_opts, i + 1)
    elif program not in _RUNS_BINS_DIRECTLY:
        return None
    return Runs((bin_name(args[i]), *args[i + 1 :])) if i < len(args) else RunsText()


def _shell(args: Sequence[str], stdin: Sequence[str]) -> RunsText:
    i, has_c, reads_stdin = 0, False, False
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 2
        elif arg[:1] in ("-", "+") and len(arg) > 1:
            if not arg.startswith("--"):
                has_c = has_c or "c" in arg[1:]
                reads_stdin = reads_stdin or "s" in arg[1:]
            i += 1
        else:
            break
    rest = args[i:]
    if has_c:
        return RunsText((rest[0] if rest else "",))
    if rest and not reads_stdin:
        return _script(rest)
    return RunsText(tuple(stdin))


def _env(args: Sequence[str]) -> Runs | RunsText:
    i, chdir = 0, None
    while i < len(args):
        arg = args[i]
        if arg in ("-S", "--split-string") or arg.startswith(("--split-string=", "-S")):
            separate = arg in ("-S", "--split-string")
            text = (args[i + 1] if i + 1 < len(args) else "") if separate else arg
            text = text.split("=", 1)[1] if text.startswith("--split-string=") else text.removeprefix("-S")
            tail = args[i + 2 :] if separate else args[i + 1 :]
            shell_text = " ".join([text, *map(shlex.quote, tail)])
            return RunsText((Expanded(shell_text) if isinstance(joined(args), Expanded) else shell_text,))
        if arg in ("-C", "--chdir", "-u", "--unset"):
            chdir = (args[i + 1] if i + 1 < len(args) else None) if arg in ("-C", "--chdir") else chdir
            i += 2
        elif arg.startswith("--chdir="):
            chdir = arg.split("=", 1)[1]
            i += 1
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-") and arg != "-":
            i += 1
        else:
            break
    extra, i = assignments(args, i)
    return Runs(tuple(args[i:]), extra, chdir) if i < len(args) else RunsText()


def _python(args: Sequence[str]) -> Runs | RunsText:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m":
            return Runs(tuple(args[i + 1 :])) if i + 1 < len(args) else RunsText()
        if arg.startswith("-m"):
            return Runs((arg[2:], *args[i + 1 :]))
        if arg.startswith("-c") or arg == "-":
            return RunsText()  # Python code: left to the shims and the git hooks
        if not arg.startswith("-"):
            return Runs(tuple(args[i:]))  # `python manage.py migrate` runs manage.py
        i += 2 if arg in ("-W", "-X", "-Q") else 1
    return RunsText()
