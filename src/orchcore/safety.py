"""Safety policy: operations an agent must never perform, and the pure matchers that spot them.

The policy lives here once. Each agent adapter compiles it into that agent's own
controls (Claude Code: permission deny rules and a PreToolUse hook), the guards
adapter into git hooks and PATH shims, and the engine checks streamed tool calls
and the refs before and after a task with it. Everything here is a pure function
of text: no filesystem, environment or process (paths are resolved with
``posixpath`` only), so a hook process, a shim and the engine give one answer.

The shell matcher is deliberately conservative: what it cannot parse it scans
word by word for forbidden commands, and it never raises. It is one layer of
several; what it cannot see (a script file, ``python -c "subprocess.run(...)"``,
``npm run <script>``) is left to the git hooks, the PATH shims and the ref check.
"""

from __future__ import annotations

import enum
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from orchcore.errors import ConfigError

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_RULES",
    "ArgCheck",
    "Rule",
    "SafetyPolicy",
    "Violation",
    "check_argv",
    "check_command",
    "check_tool_use",
    "deny_rules",
    "ref_changes",
    "rule_programs",
]


class ArgCheck(enum.StrEnum):
    """What, beyond the program and its subcommand words, makes an invocation forbidden."""

    ALWAYS = "always"
    WITH_FLAGS = "with_flags"  # only when one of the rule's ``flags`` is given
    GIT_RESET_MOVES_REF = "git_reset_moves_ref"  # --hard/--soft/--merge/--keep or a revision
    GIT_SWITCHES_BRANCH = "git_switches_branch"  # checkout of a branch, not `checkout -- <path>`
    GIT_WRITES_BRANCH = "git_writes_branch"  # branch create/delete/move, not listing
    GIT_WRITES_TAG = "git_writes_tag"  # tag create/delete, not listing
    GIT_WRITES_CONFIG = "git_writes_config"  # config set/unset, not get/list
    GIT_WRITES_SYMREF = "git_writes_symref"  # symbolic-ref set/delete, not read
    REMOTE_DB_HOST = "remote_db_host"  # a database client aimed at a non-local host


@attrs.frozen
class Rule:
    """One forbidden operation: ``program`` + ``subcommand`` words, narrowed by ``check``.

    ``subcommand`` words are matched as the git subcommand (after git's global
    options) or, for other programs, as a run anywhere among the positional
    arguments (so ``goose -dir m postgres DSN up`` matches ``("up",)``); a word
    may end in ``*`` (``"db:migrate*"``). ``flags`` are the patterns for
    ``WITH_FLAGS`` (``"--hard"``, ``"-f"`` also inside ``-fq``, ``"--force*"``).
    ``unless`` lists words right after the subcommand that make it read-only
    (``git stash list``).
    """

    name: str
    program: str
    subcommand: tuple[str, ...]
    reason: str
    check: ArgCheck = ArgCheck.ALWAYS
    flags: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


def _git(sub: str, reason: str, check: ArgCheck = ArgCheck.ALWAYS, **more: Any) -> Rule:
    words = tuple(sub.split())
    return Rule("git-" + "-".join(words), "git", words, reason, check, **more)


def _tool(program: str, sub: str, reason: str, check: ArgCheck = ArgCheck.ALWAYS) -> Rule:
    words = tuple(sub.split())
    name = re.sub(r"[^a-z0-9]+", "-", " ".join((program, *words)).lower()).strip("-")
    return Rule(name, program, words, reason, check)


_NO_COMMIT = "agents never commit: the orchestrator reviews the work and commits it"
_NO_STAGE = "agents never stage changes: leave them in the working tree"
_NO_PUSH = "agents never push"
_MOVES = "moves or rewrites branches"
_REFS = "creates, moves or deletes refs"
_REMOTE_REFS = "updates remote-tracking refs"
_CONFIG = "changes the repository's configuration"
_SWITCH = "switches branches (restore a file with `git checkout -- <path>` instead)"
_RESET = "moves a branch or throws work away (restore a file with `git checkout -- <path>`)"
_MIGRATE = "runs database migrations or changes a database schema; a human does that"
_REMOTE_DB = "connects a database client to a non-local host"

DEFAULT_RULES: tuple[Rule, ...] = (
    _git("commit", _NO_COMMIT),
    _git("add", _NO_STAGE),
    _git("rm", _NO_STAGE + " (delete with plain rm)"),
    _git("mv", _NO_STAGE + " (rename with plain mv)"),
    _git("update-index", _NO_STAGE),
    _git("apply", _NO_STAGE, ArgCheck.WITH_FLAGS, flags=("--index", "--cached", "-3", "--3way")),
    _git("push", _NO_PUSH),
    _git("send-pack", _NO_PUSH),
    _git("reset", _RESET, ArgCheck.GIT_RESET_MOVES_REF),
    _git("rebase", _MOVES),
    _git("merge", _MOVES),
    _git("pull", _MOVES),
    _git("cherry-pick", _MOVES),
    _git("revert", _MOVES),
    _git("am", _MOVES),
    _git("bisect", _MOVES),
    _git("filter-branch", _MOVES),
    _git("filter-repo", _MOVES),
    _git("checkout", _SWITCH, ArgCheck.GIT_SWITCHES_BRANCH),
    _git("switch", _SWITCH),
    _git("branch", _REFS, ArgCheck.GIT_WRITES_BRANCH),
    _git("tag", _REFS, ArgCheck.GIT_WRITES_TAG),
    _git("update-ref", _REFS),
    _git("symbolic-ref", _REFS, ArgCheck.GIT_WRITES_SYMREF),
    _git("replace", _REFS),
    _git("notes", _REFS, unless=("list", "show")),
    _git("stash", "moves refs/stash and resets the working tree", unless=("list", "show")),
    _git("worktree", "adds or removes worktrees and their branches", unless=("list",)),
    _git("reflog expire", "destroys the history of refs"),
    _git("reflog delete", "destroys the history of refs"),
    _git("fetch", _REMOTE_REFS),
    _git("remote update", _REMOTE_REFS),
    _git("remote prune", _REMOTE_REFS),
    _git("remote set-head", _REMOTE_REFS),
    *(_git(f"remote {sub}", _CONFIG) for sub in ("add", "remove", "rm", "rename", "set-url")),
    _git("config", _CONFIG, ArgCheck.GIT_WRITES_CONFIG),
    *(
        _tool(program, sub, _MIGRATE)
        for program, subs in (
            ("supabase", ("db push", "db reset", "migration up", "migration repair")),
            ("alembic", ("upgrade", "downgrade", "stamp")),
            (
                "prisma",
                (
                    "migrate deploy",
                    "migrate dev",
                    "migrate reset",
                    "migrate resolve",
                    "db push",
                    "db execute",
                ),
            ),
            ("manage.py", ("migrate", "flush")),
            ("django-admin", ("migrate", "flush")),
            ("rails", ("db:migrate*", "db:rollback", "db:drop*", "db:reset", "db:schema:load", "db:setup")),
            ("rake", ("db:migrate*", "db:rollback", "db:drop*", "db:reset", "db:schema:load", "db:setup")),
            ("knex", ("migrate:latest", "migrate:up", "migrate:down", "migrate:rollback")),
            ("sequelize", ("db:migrate*", "db:drop")),
            ("typeorm", ("migration:run", "migration:revert", "schema:sync", "schema:drop")),
            ("flyway", ("migrate", "clean", "undo", "repair", "baseline")),
            ("liquibase", ("update*", "rollback*", "drop-all", "dropAll")),
            ("dbmate", ("up", "migrate", "rollback", "down", "drop")),
            ("goose", ("up*", "down*", "redo", "reset")),
            ("migrate", ("up", "down", "drop", "force", "goto")),
            ("drizzle-kit", ("push*", "migrate", "drop")),
            ("diesel", ("migration run", "migration revert", "migration redo", "database reset")),
            ("sqlx", ("migrate run", "migrate revert", "database drop", "database reset")),
        )
        for sub in subs
    ),
    _tool("dropdb", "", "drops a database"),
    *(_tool(p, "", _REMOTE_DB, ArgCheck.REMOTE_DB_HOST) for p in ("psql", "pg_restore", "mysql", "mariadb")),
)
"""The operations forbidden by default (git ref and index writes, migrations, remote DB clients)."""


def _prefixes(_: object, __: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for prefix in value:
        if not _split(prefix):
            raise ConfigError(f"safety.forbidden_prefixes: {prefix!r} is not a command prefix")


def _absolute_dirs(_: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for path in value:
        if not path.startswith("/") or posixpath.normpath(path) == "/":
            raise ConfigError(f"safety.{attribute.name}: {path!r} must be an absolute directory below /")


@attrs.frozen
class SafetyPolicy:
    """Forbidden operations for agents; ``DEFAULT_POLICY`` is the sane default.

    ``forbidden_prefixes`` are extra command prefixes from the config
    (``"terraform apply"``): the first word is the program, the other words its
    subcommand (words starting with ``-`` must also be present as flags).
    ``workspace_only_deletes`` forbids deleting anything outside the workspace
    (and the workspace itself or its ``.git``); ``workspace_only_writes`` does the
    same for file-writing tools. ``writable_outside`` lists absolute directories
    where both are allowed anyway (e.g. ``"/tmp"``); empty by default.
    """

    enabled: bool = True
    rules: tuple[Rule, ...] = DEFAULT_RULES
    forbidden_prefixes: tuple[str, ...] = attrs.field(default=(), validator=_prefixes)
    workspace_only_deletes: bool = True
    workspace_only_writes: bool = True
    writable_outside: tuple[str, ...] = attrs.field(default=(), validator=_absolute_dirs)


DEFAULT_POLICY = SafetyPolicy()


@attrs.frozen
class Violation:
    """A forbidden operation found: which rule, the offending command and why."""

    rule: str
    command: str
    reason: str

    def __str__(self) -> str:
        command = " ".join(self.command.split())
        if len(command) > 200:
            command = command[:200] + "…"
        return f"forbidden ({self.rule}): {self.reason}: {command}"


UNCHECKABLE = "uncheckable"
DELETE_OUTSIDE = "delete-outside-workspace"
WRITE_OUTSIDE = "write-outside-workspace"

# --------------------------------------------------------------------------- rules


@lru_cache(maxsize=64)
def _rules_by_program(policy: SafetyPolicy) -> Mapping[str, tuple[Rule, ...]]:
    table: dict[str, list[Rule]] = {}
    for rule in (*policy.rules, *_prefix_rules(policy.forbidden_prefixes)):
        table.setdefault(rule.program, []).append(rule)
    return {program: tuple(rules) for program, rules in table.items()}


def _prefix_rules(prefixes: Sequence[str]) -> list[Rule]:
    rules = []
    for prefix in prefixes:
        words = _split(prefix) or [prefix]
        sub = tuple(w for w in words[1:] if not w.startswith("-"))
        flags = tuple(w for w in words[1:] if w.startswith("-"))
        check = ArgCheck.WITH_FLAGS if flags else ArgCheck.ALWAYS
        reason = f"matches the forbidden command prefix {prefix!r}"
        rules.append(Rule(f"prefix: {prefix}", _program(words[0]), sub, reason, check, flags))
    return rules


def rule_programs(policy: SafetyPolicy) -> list[str]:
    """Every program some rule names (what a PATH shim directory should cover), sorted."""
    return sorted(_rules_by_program(policy)) if policy.enabled else []


_DENY_EXTRAS: Mapping[ArgCheck, tuple[str, ...]] = {
    ArgCheck.GIT_RESET_MOVES_REF: tuple(f"git reset {f}" for f in ("--hard", "--soft", "--merge", "--keep")),
    ArgCheck.GIT_SWITCHES_BRANCH: tuple(f"git checkout {f}" for f in ("-b", "-B", "--orphan", "--detach")),
    ArgCheck.GIT_WRITES_BRANCH: tuple(
        f"git branch {f}" for f in ("-d", "-D", "--delete", "-m", "-M", "--move", "-f", "--force")
    ),
    ArgCheck.GIT_WRITES_TAG: tuple(f"git tag {f}" for f in ("-d", "--delete", "-a", "-f", "-s")),
    ArgCheck.GIT_WRITES_SYMREF: ("git symbolic-ref -d", "git symbolic-ref --delete"),
}


def deny_rules(policy: SafetyPolicy) -> list[str]:
    """Claude Code permission deny rules for the policy (``"Bash(git commit:*)"``, ...).

    Best effort only: prefix rules are easy to get around (``git -C . commit``
    escapes ``Bash(git commit:*)``; the added ``Bash(git * commit *)`` form
    catches that one, but not ``sudo git commit`` or a script). The PreToolUse
    hook, the shims, the git hooks and the ref check are what hold.
    """
    if not policy.enabled:
        return []
    found: list[str] = []
    for rules in _rules_by_program(policy).values():
        for rule in rules:
            words = " ".join((rule.program, *rule.subcommand)).rstrip("*").strip()
            if rule.check is ArgCheck.ALWAYS and not rule.unless:
                found.append(f"Bash({words}:*)")
                if rule.program == "git":
                    found.append(f"Bash(git * {' '.join(rule.subcommand)} *)")
            elif rule.check is ArgCheck.WITH_FLAGS:
                found.extend(f"Bash({words} {f}:*)" for f in rule.flags if not f.endswith("*"))
            else:
                found.extend(f"Bash({prefix}:*)" for prefix in _DENY_EXTRAS.get(rule.check, ()))
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------- refs


def _short(value: str) -> str:
    if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", value):
        return value[:7]
    return value.removeprefix("ref: ")


def ref_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What moved between two ``Workspace.refs()`` snapshots, one line each, HEAD first.

    ``["HEAD moved a1b2c3d -> d4e5f6a", "refs/heads/x created", "refs/tags/v1 deleted"]``;
    empty when nothing changed.
    """
    lines = []
    for name in sorted(set(before) | set(after), key=lambda n: (n != "HEAD", n)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            lines.append(f"{name} created")
        elif new is None:
            lines.append(f"{name} deleted")
        else:
            lines.append(f"{name} moved {_short(old)} -> {_short(new)}")
    return lines


# --------------------------------------------------------------------------- entry points


def check_command(policy: SafetyPolicy, command: str, workdir: str) -> Violation | None:
    """The first forbidden operation in a shell command line, or None if it looks allowed.

    Looks through ``;``/``&&``/``||``/``|``/``&``/newlines, subshells, ``$(...)`` and
    backticks, ``bash -c``/``sh -c``/``eval``, wrappers (``env``, ``sudo``,
    ``command``, ``exec``, ``nohup``, ``time``, ``timeout``, ``xargs``, ``npx``,
    ``uv run``, ``python -m``, ...), git's global options and ``-c alias.*``, and
    ``cd`` (relative deletes are resolved against every directory the command
    may be in). ``workdir`` is the workspace (absolute). Never raises: text that
    does not parse is scanned word by word, conservatively.
    """
    if not policy.enabled:
        return None
    scan = _Scan(policy, _root(workdir))
    return _guarded(lambda: _check_text(scan, command), scan, command)


def check_argv(
    policy: SafetyPolicy, argv: Sequence[str], workdir: str, env: Mapping[str, str] | None = None
) -> Violation | None:
    """Like ``check_command`` for an exec'd argv (no shell); ``env`` supplies PGHOST and the like."""
    if not policy.enabled or not argv:
        return None
    scan = _Scan(policy, _root(workdir), env=dict(env or {}))
    text = shlex.join(argv)
    return _guarded(lambda: _check_argv(scan, list(argv), {}), scan, text)


_WRITE_TOOLS: Mapping[str, tuple[str, ...]] = {
    "Write": ("file_path",),
    "Edit": ("file_path",),
    "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path", "file_path"),
}


def check_tool_use(
    policy: SafetyPolicy, tool_name: str, tool_input: Mapping[str, object], workdir: str
) -> Violation | None:
    """The violation in one agent tool call (Claude Code's tool names), or None.

    ``Bash`` is checked with ``check_command``; ``Write``/``Edit``/``MultiEdit``/
    ``NotebookEdit`` must target a file inside the workspace and not in its ``.git``.
    Other tools are allowed. Never raises.
    """
    if not policy.enabled:
        return None
    if tool_name == "Bash":
        command = tool_input.get("command")
        return check_command(policy, command, workdir) if isinstance(command, str) else None
    keys = _WRITE_TOOLS.get(tool_name)
    if keys is None or not policy.workspace_only_writes:
        return None
    path = next((v for k in keys if isinstance(v := tool_input.get(k), str)), None)
    if path is None:
        return None
    root = _root(workdir)
    resolved = _norm(posixpath.join(root, path)) if not path.startswith("~") else None
    if resolved is not None and _within(resolved, root):
        if resolved[len(root) :].lstrip("/").split("/")[0] == ".git":
            return Violation(WRITE_OUTSIDE, f"{tool_name} {path}", "write inside the repository's .git")
        return None
    if resolved is not None and any(_within(resolved, _norm(d)) for d in policy.writable_outside):
        return None
    return Violation(WRITE_OUTSIDE, f"{tool_name} {path}", "write outside the workspace")


# --------------------------------------------------------------------------- scanning state

_MAX_DEPTH = 8
_MAX_UNWRAP = 64
_MAX_CWDS = 16


@attrs.define
class _Scan:
    """Where a scan stands: the policy, the workspace, the directories it may be in, the env."""

    policy: SafetyPolicy
    root: str
    cwds: list[str | None] = attrs.Factory(lambda self: [self.root], takes_self=True)
    env: dict[str, str] = attrs.Factory(dict)
    depth: int = 0

    def child(self) -> _Scan:
        """A nested shell (``bash -c``, ``$(...)``): same place, its own changes."""
        return _Scan(self.policy, self.root, list(self.cwds), dict(self.env), self.depth + 1)

    def chdir(self, target: str | None) -> None:
        """Record a ``cd``; the old directories stay possible (subshells, ``||``)."""
        new: list[str | None] = []
        for cwd in self.cwds:
            if (
                target is None
                or target.startswith("~")
                or "$" in target
                or "`" in target
                or target == "-"
                or (cwd is None and not target.startswith("/"))
            ):
                new.append(None)
            else:
                new.append(_norm(posixpath.join(cwd or "/", target)))
        merged = list(dict.fromkeys([*self.cwds, *new]))
        self.cwds = merged if len(merged) <= _MAX_CWDS else [*merged[: _MAX_CWDS - 1], None]


def _guarded(check: Callable[[], Violation | None], scan: _Scan, text: str) -> Violation | None:
    try:
        return check()
    except Exception:  # noqa: BLE001 - a matcher must answer; an odd input must not crash the caller
        pass
    try:
        return _raw_scan(_Scan(scan.policy, scan.root), text)
    except Exception:  # noqa: BLE001 - same: the answer is then the conservative one
        return Violation(UNCHECKABLE, text, "the command could not be checked")


def _root(workdir: str) -> str:
    return _norm(workdir if workdir.startswith("/") else "/" + workdir)


def _norm(path: str) -> str:
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def _within(path: str, root: str) -> bool:
    return path != root and path.startswith(root.rstrip("/") + "/")


def _split(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def _program(word: str) -> str:
    return posixpath.basename(word)


# --------------------------------------------------------------------------- tokens and segments

_PUNCT = "();<>|&\n"
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=(.*)$", re.DOTALL)


@attrs.define
class _Segment:
    """One simple command: its words, here-strings fed to it, the command piped into it."""

    words: list[str] = attrs.Factory(list)
    stdin_texts: list[str] = attrs.Factory(list)
    piped_from: _Segment | None = None


def _tokens(text: str) -> list[str] | None:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=_PUNCT)
    lexer.whitespace_split = True
    lexer.whitespace = " \t\r"
    lexer.commenters = ""  # a `#` inside a word is not a comment; scanning a comment is only cautious
    try:
        return list(lexer)
    except ValueError:
        return None


def _is_op(token: str) -> bool:
    return bool(token) and all(c in _PUNCT for c in token)


def _segments(tokens: Sequence[str]) -> list[_Segment]:
    segments: list[_Segment] = []
    current = _Segment()
    redirect: str | None = None
    for token in tokens:
        if redirect is not None and not _is_op(token):
            if redirect.endswith("<<<"):
                current.stdin_texts.append(token)
            redirect = None
            continue
        redirect = None
        if not _is_op(token):
            current.words.append(token)
            continue
        if any(c in token for c in ";|()\n") or not token.strip("&"):
            piped = "|" in token and "||" not in token
            segments.append(current)
            current = _Segment(piped_from=current if piped else None)
        if ("<" in token or ">" in token) and "(" not in token:
            if current.words and current.words[-1].isdigit():
                current.words.pop()  # the fd of `2>&1`
            redirect = token
    segments.append(current)
    return [s for s in segments if s.words]


def _substitutions(text: str) -> list[str]:
    """The insides of ``$(...)`` and backticks anywhere in ``text`` (quoted or not)."""
    found = [m.group(1) for m in re.finditer(r"`([^`]*)`", text)]
    start = text.find("$(")
    while start != -1:
        depth, i = 0, start + 1
        while i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        found.append(text[start + 2 : i])
        start = text.find("$(", start + 2)
    return found


# --------------------------------------------------------------------------- text and segments


def _check_text(scan: _Scan, text: str) -> Violation | None:
    if scan.depth > _MAX_DEPTH:
        return Violation(UNCHECKABLE, text, "the command nests too deeply to be checked")
    tokens = _tokens(text)
    if tokens is None:
        return _raw_scan(scan, text)
    for segment in _segments(tokens):
        found = _check_segment(scan, segment)
        if found is not None:
            return found
    for inner in _substitutions(text):
        if inner.strip() and inner != text:
            found = _check_text(scan.child(), inner)
            if found is not None:
                return found
    return None


_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}"})
_NOT_COMMANDS = frozenset({"for", "case", "esac", "select", "function", "[[", "]]", "[", "test", ";;"})
_DECLARE = frozenset({"export", "declare", "typeset", "local", "readonly"})


def _check_segment(scan: _Scan, segment: _Segment) -> Violation | None:
    words = segment.words
    env: dict[str, str] = {}
    i = 0
    while i < len(words):
        match = _ASSIGN.match(words[i])
        if words[i] in _KEYWORDS:
            i += 1
        elif words[i] in _NOT_COMMANDS:
            return None
        elif match:
            env[match.group(1)] = match.group(2)
            i += 1
        else:
            break
    if i == len(words):
        scan.env.update(env)  # plain assignments stay for the commands after them
        return None
    return _check_argv(scan, words[i:], env, segment)


def _raw_scan(scan: _Scan, text: str) -> Violation | None:
    """Unparseable text: check the words after every known program as if they were a command."""
    words = re.findall(r"[^\s;&|()<>`'\"]+", text)
    interesting = {*_rules_by_program(scan.policy), *_WRAPPERS, *_SHELLS, *_DELETERS, "find", "eval", "env"}
    for i, word in enumerate(words):
        if _program(word) in interesting or _program(word).startswith("git-"):
            found = _check_argv(scan, words[i:], {})
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------- wrappers

_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "busybox"})
_DELETERS = frozenset({"rm", "unlink", "rmdir", "shred"})
_WRAPPERS: Mapping[str, frozenset[str]] = {
    name: frozenset(opts.split())
    for name, opts in {
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
    }.items()
}
_RUNNERS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    # program: (subcommands that run a program, their options taking a value)
    "npm": (frozenset({"exec", "x"}), frozenset({"-p", "--package", "-w", "--workspace"})),
    "pnpm": (frozenset({"exec", "dlx", "run"}), frozenset({"-C", "--dir", "--filter", "-F"})),
    "yarn": (frozenset({"exec", "dlx", "run"}), frozenset({"-p", "--package", "--cwd"})),
    "bun": (frozenset({"x", "run"}), frozenset({"--cwd"})),
    "uv": (
        frozenset({"run"}),
        frozenset(
            [
                "--with",
                "--python",
                "-p",
                "--project",
                "--directory",
                "--env-file",
                "--extra",
                "--group",
                "--package",
            ]
        ),
    ),
    "poetry": (frozenset({"run"}), frozenset({"-C", "--directory", "-P", "--project"})),
    "pipenv": (frozenset({"run"}), frozenset()),
    "pdm": (frozenset({"run"}), frozenset({"-p", "--project"})),
    "hatch": (frozenset({"run"}), frozenset({"-e", "--env"})),
    "rye": (frozenset({"run"}), frozenset()),
    "pipx": (frozenset({"run"}), frozenset({"--spec", "--python"})),
    "conda": (frozenset({"run"}), frozenset({"-n", "--name", "-p", "--prefix", "--cwd"})),
    "bundle": (frozenset({"exec"}), frozenset()),
}
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$|^pypy3?$")
_PYTHON_VALUE_OPTS = frozenset({"-W", "-X", "-Q"})


@attrs.frozen
class _Unwrapped:
    """A wrapper's inner command, with the environment and directory it gets."""

    argv: list[str]
    env: Mapping[str, str] = attrs.Factory(dict)
    chdir: str | None = None


class _NotWrapper:
    """The program runs itself: check it against the rules."""


_ITSELF = _NotWrapper()
_Step = _Unwrapped | _NotWrapper | Violation | None


def _skip_options(args: Sequence[str], value_opts: frozenset[str] | set[str], start: int = 0) -> int:
    """Index of the first positional argument (after ``--`` if that comes first)."""
    i = start
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return i + 1
        if not arg.startswith("-") or arg == "-":
            return i
        i += 2 if arg in value_opts else 1
    return i


def _check_argv(
    scan: _Scan, argv: list[str], env: Mapping[str, str], segment: _Segment | None = None
) -> Violation | None:
    words, env = list(argv), dict(env)
    for _ in range(_MAX_UNWRAP):
        if not words:
            return None
        program, args = _program(words[0]), words[1:]
        step = _unwrap(scan, program, args, segment)
        if isinstance(step, _Unwrapped):
            if step.chdir is not None:
                scan = scan.child()
                scan.chdir(step.chdir)
            words, env, segment = step.argv, {**env, **step.env}, None
            continue
        if step is not _ITSELF:
            return step if isinstance(step, Violation) else None
        return _check_program(scan, program, args, env, shlex.join(words))
    return Violation(UNCHECKABLE, shlex.join(argv), "too many nested wrappers to check")


def _unwrap(scan: _Scan, program: str, args: list[str], segment: _Segment | None) -> _Step:
    if program in _SHELLS:
        return _shell(scan, args[1:] if program == "busybox" and args[:1] == ["sh"] else args, segment)
    if program == "eval":
        return _check_text(scan.child(), " ".join(args))
    if program == "env":
        return _env(scan, args)
    if program in ("command", "builtin") and any(a in ("-v", "-V") for a in args[:2]):
        return None  # a lookup, not a run
    if program == "su":
        return _option_text(scan, args, ("-c", "--command"))
    if program == "watch":
        i = _skip_options(args, {"-n", "--interval", "-d", "-g"})
        return _check_text(scan.child(), " ".join(args[i:]))
    if program in ("npx", "pnpx", "bunx", "npm") and any(a in ("-c", "--call") for a in args):
        return _option_text(scan, args, ("-c", "--call"))
    if program in _WRAPPERS:
        i = _skip_options(args, _WRAPPERS[program])
        if program == "timeout" or program == "flock":
            if program == "flock" and i + 1 < len(args) and args[i + 1] in ("-c", "--command"):
                return _check_text(scan.child(), " ".join(args[i + 2 :]))
            i += 1  # the duration, or the lock file
        extra, i = _assignments(args, i)
        inner = [_versionless(args[i]), *args[i + 1 :]] if i < len(args) else []
        chdir = _option_value(args, "-C", "--chdir") if program == "sudo" else None
        return _Unwrapped(inner if inner or program != "xargs" else ["echo"], extra, chdir)
    if program in _RUNNERS and args:
        subcommands, value_opts = _RUNNERS[program]
        i = _skip_options(args, value_opts)
        if i < len(args) and args[i] in subcommands:
            i = _skip_options(args, value_opts, i + 1)
        elif program not in ("pnpm", "yarn", "bun"):  # only these run a bin named directly
            return _ITSELF
        return _Unwrapped([_versionless(args[i]), *args[i + 1 :]] if i < len(args) else [])
    if _PYTHON.match(program):
        return _python(args)
    return _ITSELF


def _versionless(word: str) -> str:
    """``supabase@1.2.3`` or ``@prisma/cli@5`` (as npx takes them) -> the bin name."""
    name = _program(word)
    return re.sub(r"(?<=.)@[^/@]*$", "", name) if "@" in name else word


def _assignments(args: Sequence[str], start: int) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    i = start
    while i < len(args) and (match := _ASSIGN.match(args[i])):
        found[match.group(1)] = match.group(2)
        i += 1
    return found, i


def _option_value(args: Sequence[str], short: str, long: str) -> str | None:
    for i, arg in enumerate(args):
        if arg in (short, long) and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
        if short and arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
            return arg[len(short) :]
    return None


def _option_text(scan: _Scan, args: Sequence[str], names: tuple[str, str]) -> Violation | None:
    text = _option_value(args, *names)
    return _check_text(scan.child(), text) if text is not None else None


def _shell(scan: _Scan, args: Sequence[str], segment: _Segment | None) -> _Step:
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
        return _check_text(scan.child(), rest[0] if rest else "")
    if rest and not reads_stdin:
        return None  # a script file: not visible from here (the shims and hooks still apply)
    texts = list(segment.stdin_texts) if segment else []
    source = segment.piped_from.words if segment and segment.piped_from else []
    if source and _program(source[0]) in ("echo", "printf"):
        texts.append(" ".join(source[1:]).replace("\\n", "\n"))
    for text in texts:
        found = _check_text(scan.child(), text)
        if found is not None:
            return found
    return None


def _env(scan: _Scan, args: list[str]) -> _Step:
    i, chdir = 0, None
    while i < len(args):
        arg = args[i]
        if arg in ("-S", "--split-string") or arg.startswith(("--split-string=", "-S")):
            text = args[i + 1] if arg in ("-S", "--split-string") and i + 1 < len(args) else arg
            text = text.split("=", 1)[1] if text.startswith("--split-string=") else text.removeprefix("-S")
            tail = args[i + 2 :] if arg in ("-S", "--split-string") else args[i + 1 :]
            return _check_text(scan.child(), " ".join([text, *map(shlex.quote, tail)]))
        if arg in ("-C", "--chdir"):
            chdir = args[i + 1] if i + 1 < len(args) else None
            i += 2
        elif arg.startswith("--chdir="):
            chdir = arg.split("=", 1)[1]
            i += 1
        elif arg in ("-u", "--unset"):
            i += 2
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-") and arg != "-":
            i += 1
        else:
            break
    extra, i = _assignments(args, i)
    return _Unwrapped(args[i:], extra, chdir)


def _python(args: list[str]) -> _Step:
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m" and i + 1 < len(args):
            return _Unwrapped(args[i + 1 :])
        if arg.startswith("-m") and len(arg) > 2:
            return _Unwrapped([arg[2:], *args[i + 1 :]])
        if arg == "-c" or arg.startswith("-c") or arg == "-":
            return None  # Python code: left to the shims and git hooks
        if not arg.startswith("-"):
            return _Unwrapped(args[i:])  # `python manage.py migrate` runs manage.py
        i += 2 if arg in _PYTHON_VALUE_OPTS else 1
    return None


# --------------------------------------------------------------------------- programs


def _check_program(
    scan: _Scan, program: str, args: list[str], env: Mapping[str, str], text: str
) -> Violation | None:
    if program in ("cd", "pushd"):
        i = _skip_options(args, set())
        scan.chdir(args[i] if i < len(args) else None)
        return None
    if program == "popd":
        scan.chdir(None)
        return None
    if program in _DECLARE:
        scan.env.update(_assignments(args, _skip_options(args, set()))[0])
        return None
    if program in _DELETERS and scan.policy.workspace_only_deletes:
        found = _check_deletes(scan, program, args, text)
        if found is not None:
            return found
    if program == "find":
        return _check_find(scan, args, env, text)
    if program == "git" or (program.startswith("git-") and len(program) > 4):
        return _check_git(scan, args if program == "git" else [program[4:], *args], env, text)
    positionals = _positionals(args, _VALUE_OPTIONS.get(program, frozenset()))
    for rule in _rules_by_program(scan.policy).get(program, ()):
        start = _find_run(positionals, rule.subcommand)
        if start is None:
            continue
        tail = positionals[start + len(rule.subcommand) :]
        if rule.unless and tail[:1] and tail[0] in rule.unless:
            continue
        reason = _applies(scan, rule, program, args, env)
        if reason is not None:
            return Violation(rule.name, text, reason)
    return None


_VALUE_OPTIONS: Mapping[str, frozenset[str]] = {
    name: frozenset(opts.split())
    for name, opts in {
        "alembic": "-c --config -n --name -x -m --message --rev-id --head --branch-label --depends-on",
        "supabase": "--workdir --profile -o --output --db-url -p --password -s --schema --network-id",
        "prisma": "--schema --name -n",
        "migrate": "-path -database -source -lock-timeout -prefetch",
        "goose": "-dir -table -certfile -s",
        "psql": "-c --command -d --dbname -f --file -h --host -p --port -U --username -v --set "
        "--variable -o --output -L --log-file -P --pset -T --table-attr -F --field-separator "
        "-R --record-separator",
        "pg_restore": "-d --dbname -h --host -p --port -U --username -f --file -F --format -j --jobs "
        "-L --use-list -n --schema -N --exclude-schema -t --table -T --trigger -I --index "
        "-P --function -S --superuser --role",
        "mysql": "-h --host -u --user -P --port -e --execute -D --database -S --socket --protocol",
    }.items()
}
_VALUE_OPTIONS = {**_VALUE_OPTIONS, "mariadb": _VALUE_OPTIONS["mysql"]}


def _positionals(args: Sequence[str], value_opts: frozenset[str] | set[str]) -> list[str]:
    found, i, options = [], 0, True
    while i < len(args):
        arg = args[i]
        if options and arg == "--":
            options = False
        elif options and arg.startswith("-") and arg != "-":
            i += 1 if arg in value_opts else 0
        else:
            found.append(arg)
        i += 1
    return found


def _word_matches(pattern: str, word: str) -> bool:
    if pattern.endswith("*"):
        return word.startswith(pattern[:-1])
    return word == pattern


def _find_run(words: Sequence[str], run: Sequence[str]) -> int | None:
    if not run:
        return 0
    for start in range(len(words) - len(run) + 1):
        if all(_word_matches(p, w) for p, w in zip(run, words[start:], strict=False)):
            return start
    return None


def _has_flag(args: Sequence[str], patterns: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        for pattern in patterns:
            if pattern.endswith("*") and arg.startswith(pattern[:-1]):
                return True
            if arg == pattern or (pattern.startswith("--") and arg.startswith(pattern + "=")):
                return True
            short = len(pattern) == 2 and pattern[0] == "-" and pattern[1] != "-"
            if short and re.fullmatch(r"-[A-Za-z0-9]+", arg) and pattern[1] in arg[1:]:
                return True
    return False


# --------------------------------------------------------------------------- git

_GIT_VALUE_OPTS = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env", "--attr-source"}
)
_GIT_FLAGS = frozenset(
    [
        "-p",
        "-P",
        "--paginate",
        "--no-pager",
        "--bare",
        "--no-replace-objects",
        "--literal-pathspecs",
        "--glob-pathspecs",
        "--noglob-pathspecs",
        "--icase-pathspecs",
        "--no-optional-locks",
        "--no-advice",
        "--html-path",
        "--man-path",
        "--info-path",
        "--version",
        "-v",
        "--help",
        "-h",
        "--exec-path",
    ]
)


def _git_subcommand_indexes(args: Sequence[str]) -> tuple[list[int], dict[str, str]]:
    """Where the subcommand may be (an unknown global option may have taken a value), and -c aliases."""
    aliases: dict[str, str] = {}
    maybe: list[int] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _GIT_VALUE_OPTS:
            if arg == "-c" and i + 1 < len(args):
                key, _, value = args[i + 1].partition("=")
                if key.lower().startswith("alias."):
                    aliases[key[6:].lower()] = value
            i += 2
        elif (arg.startswith("--") and "=" in arg) or arg in _GIT_FLAGS:
            i += 1
        elif arg.startswith("-"):
            maybe.append(i + 2)
            i += 1
        else:
            break
    return [i, *maybe], aliases


def _check_git(scan: _Scan, args: list[str], env: Mapping[str, str], text: str) -> Violation | None:
    indexes, aliases = _git_subcommand_indexes(args)
    rules = _rules_by_program(scan.policy).get("git", ())
    for index in indexes:
        if index >= len(args):
            continue
        sub, rest = args[index], args[index + 1 :]
        alias = aliases.get(sub.lower())
        if alias is not None:
            inner = scan.child()
            if alias.startswith("!"):
                found = _check_text(inner, " ".join([alias[1:], *map(shlex.quote, rest)]))
            elif inner.depth > _MAX_DEPTH:
                found = Violation(UNCHECKABLE, text, "git aliases nest too deeply to be checked")
            else:
                expanded = _split(alias) or alias.split()
                found = _check_git(inner, [*args[:index], *expanded, *rest], env, text)
            if found is not None:
                return found
            continue
        for rule in rules:
            if not rule.subcommand or not _word_matches(rule.subcommand[0], sub):
                continue
            tail = _consume(rest, rule.subcommand[1:])
            if tail is None:
                continue
            if rule.unless and (first := _positionals(tail, set())[:1]) and first[0] in rule.unless:
                continue
            reason = _applies(scan, rule, "git", tail, env)
            if reason is not None:
                return Violation(rule.name, text, reason)
    return None


def _consume(args: Sequence[str], words: Sequence[str]) -> list[str] | None:
    """``args`` after the positional ``words`` that must come first (options skipped), or None."""
    i = 0
    for word in words:
        while i < len(args) and args[i].startswith("-"):
            i += 1
        if i >= len(args) or not _word_matches(word, args[i]):
            return None
        i += 1
    return list(args[i:])


def _revision_like(word: str) -> bool:
    if re.fullmatch(r"(HEAD|ORIG_HEAD|FETCH_HEAD|MERGE_HEAD|@)([~^].*)?|[0-9a-f]{7,64}", word):
        return True
    return any(c in word for c in "~^") or "@{" in word or ("." not in word and "/" not in word)


def _path_like(word: str) -> bool:
    if word in (".", "..") or word.startswith(("./", "../", "/", ":")) or any(c in word for c in "*?["):
        return True
    name = posixpath.basename(word)
    return "." in name[1:] and not any(c in word for c in "~^@")


def _applies(scan: _Scan, rule: Rule, program: str, args: list[str], env: Mapping[str, str]) -> str | None:
    """``rule.reason`` (maybe with a detail) if the arguments make the rule apply, else None."""
    check = rule.check
    if check is ArgCheck.ALWAYS:
        return rule.reason
    if check is ArgCheck.WITH_FLAGS:
        return rule.reason if _has_flag(args, rule.flags) else None
    if check is ArgCheck.REMOTE_DB_HOST:
        host = _remote_db_host(program, args, {**scan.env, **env})
        return None if host is None else f"{rule.reason} ({host or 'unknown host'})"
    moves = {
        ArgCheck.GIT_RESET_MOVES_REF: _reset_moves,
        ArgCheck.GIT_SWITCHES_BRANCH: _checkout_switches,
        ArgCheck.GIT_WRITES_BRANCH: _branch_writes,
        ArgCheck.GIT_WRITES_TAG: _tag_writes,
        ArgCheck.GIT_WRITES_CONFIG: _config_writes,
        ArgCheck.GIT_WRITES_SYMREF: _symref_writes,
    }[check]
    return rule.reason if moves(args) else None


def _reset_moves(args: list[str]) -> bool:
    if _has_flag(args, ("--hard", "--soft", "--merge", "--keep")):
        return True
    before = args[: args.index("--")] if "--" in args else args
    return any(_revision_like(a) for a in before if not a.startswith("-"))


def _checkout_switches(args: list[str]) -> bool:
    before = args[: args.index("--")] if "--" in args else args
    for arg in before:
        if arg in ("--orphan", "--detach", "-t", "--track", "--guess") or arg.startswith("--track="):
            return True
        if re.fullmatch(r"-[A-Za-z]*[bB].*", arg) and not arg.startswith("--"):
            return True
    if "--" in args:
        return False
    return not all(_path_like(p) for p in _positionals(args, {"--conflict"}))


_BRANCH_WRITE = ("-d", "-D", "--delete", "-m", "-M", "--move", "-c", "-C", "--copy", "-f", "--force")
_BRANCH_WRITE_MORE = ("-u", "--set-upstream-to", "--unset-upstream", "--edit-description", "-t", "--track")
_BRANCH_LIST = ("-l", "--list", "-a", "--all", "-r", "--remotes", "--contains", "--no-contains")
_BRANCH_LIST_MORE = ("--merged", "--no-merged", "--points-at", "--show-current", "-v", "-vv", "--verbose")
_BRANCH_VALUES = frozenset(
    {"--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "--format", "--sort"}
)


def _branch_writes(args: list[str]) -> bool:
    if _has_flag(args, (*_BRANCH_WRITE, *_BRANCH_WRITE_MORE)):
        return True
    listing = _has_flag(args, (*_BRANCH_LIST, *_BRANCH_LIST_MORE))
    return not listing and bool(_positionals(args, _BRANCH_VALUES))


_TAG_WRITE = ("-d", "--delete", "-a", "--annotate", "-s", "--sign", "-u", "--local-user", "-f", "--force")
_TAG_WRITE_MORE = ("-m", "--message", "-F", "--file", "-e", "--edit")
_TAG_LIST = ("-l", "--list", "-n*", "--contains", "--no-contains", "--merged", "--no-merged", "--points-at")
_TAG_VALUES = frozenset(
    {"--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "--sort", "--format"}
)


def _tag_writes(args: list[str]) -> bool:
    if _has_flag(args, (*_TAG_WRITE, *_TAG_WRITE_MORE)):
        return True
    listing = _has_flag(args, (*_TAG_LIST, "-v", "--verify", "--column"))
    return not listing and bool(_positionals(args, _TAG_VALUES))


_CONFIG_WRITE = ("--add", "--replace-all", "--unset", "--unset-all", "--rename-section", "--remove-section")
_CONFIG_READ = ("--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list", "--get-color")
_CONFIG_VALUES = frozenset({"-f", "--file", "--blob", "--type", "--default", "--comment", "--value"})


def _config_writes(args: list[str]) -> bool:
    if _has_flag(args, (*_CONFIG_WRITE, "-e", "--edit")):
        return True
    positionals = _positionals(args, _CONFIG_VALUES)
    if positionals[:1] and positionals[0] in ("set", "unset", "rename-section", "remove-section", "edit"):
        return True
    if (positionals[:1] and positionals[0] in ("get", "list")) or _has_flag(args, _CONFIG_READ):
        return False
    return len(positionals) >= 2


def _symref_writes(args: list[str]) -> bool:
    return _has_flag(args, ("-d", "--delete")) or len(_positionals(args, {"-m"})) >= 2


# --------------------------------------------------------------------------- databases

_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})
_HOST_ENV = {"psql": ("PGHOST", "PGHOSTADDR"), "pg_restore": ("PGHOST", "PGHOSTADDR")}


def _remote_db_host(program: str, args: list[str], env: Mapping[str, str]) -> str | None:
    """The first non-local host a database client would reach; "" if it cannot be known; None if local."""
    hosts: list[str] = []
    for short, long in (("-h", "--host"), ("-d", "--dbname")):
        for i, arg in enumerate(args):
            if arg in (short, long) and i + 1 < len(args):
                hosts.extend(_hosts_in(args[i + 1], is_host=short == "-h"))
            elif arg.startswith(long + "="):
                hosts.extend(_hosts_in(arg.split("=", 1)[1], is_host=short == "-h"))
            elif arg.startswith(short) and len(arg) > 2 and not arg.startswith("--"):
                hosts.extend(_hosts_in(arg[2:], is_host=short == "-h"))
    positionals = _positionals(args, _VALUE_OPTIONS.get(program, frozenset()))
    if program == "psql" and positionals:
        hosts.extend(_hosts_in(positionals[0], is_host=False))
    if program in ("mysql", "mariadb"):
        hosts.extend(env[k] for k in ("MYSQL_HOST",) if k in env)
    hosts.extend(env[k] for k in _HOST_ENV.get(program, ()) if k in env)
    for host in hosts:
        if "$" in host or "`" in host:
            return ""
        for one in host.split(","):
            name = one.strip()
            if name not in _LOCAL_HOSTS and not name.startswith("/") and not name.startswith("@"):
                return name
    return None


def _hosts_in(value: str, *, is_host: bool) -> list[str]:
    if is_host:
        return [value]
    if "://" in value:
        try:
            parts = urlsplit(value)
            netloc = parts.netloc.rpartition("@")[2]
            hosts = [
                unquote(re.sub(r":\d*$", "", h)) if not h.startswith("[") else h.split("]")[0] + "]"
                for h in netloc.split(",")
            ]
            hosts.extend(parse_qs(parts.query).get("host", []))
            hosts.extend(parse_qs(parts.query).get("hostaddr", []))
        except ValueError:
            return [""]
        return hosts
    if "=" in value:
        pairs = re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)", value)
        return [v.strip("'") for k, v in pairs if k in ("host", "hostaddr")]
    return ["$"] if "$" in value else []


# --------------------------------------------------------------------------- deletes


def _check_deletes(scan: _Scan, program: str, args: list[str], text: str) -> Violation | None:
    value_opts = {"-n", "-s", "--iterations", "--size", "--random-source"} if program == "shred" else set()
    for target in _positionals(args, value_opts):
        reason = _delete_reason(scan, target, may_be_root=False)
        if reason is not None:
            return Violation(DELETE_OUTSIDE, text, reason)
    return None


def _check_find(scan: _Scan, args: list[str], env: Mapping[str, str], text: str) -> Violation | None:
    i = 0
    while i < len(args) and (args[i] in ("-H", "-L", "-P") or re.fullmatch(r"-O\d", args[i])):
        i += 1
    if i < len(args) and args[i] == "-D":
        i += 2
    starts = []
    while i < len(args) and not args[i].startswith("-") and args[i] not in ("(", "!", ")", ","):
        starts.append(args[i])
        i += 1
    expression = args[i:]
    deleting = "-delete" in expression
    for j, arg in enumerate(expression):
        if arg in ("-exec", "-execdir", "-ok", "-okdir"):
            inner = []
            for word in expression[j + 1 :]:
                if word in (";", "+"):
                    break
                inner.append(word)
            if inner and _program(inner[0]) in _DELETERS:
                deleting = True
                inner = [w for w in inner if w != "{}"]
            found = _check_argv(scan, inner, env) if inner else None
            if found is not None:
                return found
    if deleting and scan.policy.workspace_only_deletes:
        for start in starts or ["."]:
            reason = _delete_reason(scan, start, may_be_root=True)
            if reason is not None:
                return Violation(DELETE_OUTSIDE, text, reason)
    return None


def _delete_reason(scan: _Scan, path: str, *, may_be_root: bool) -> str | None:
    if path.startswith("~"):
        return "deletes in a home directory, outside the workspace"
    if re.match(r"\$\{?PWD\}?(/|$)", path):
        path = "." + re.sub(r"^\$\{?PWD\}?", "", path)
    if path.startswith(("$", "`")):
        return "deletes a path only known when the command runs"
    path = re.sub(r"\$\{[^}]*\}|\$\w+|`[^`]*`|\$", "_", path)
    for cwd in scan.cwds:
        if cwd is None and not path.startswith("/"):
            return "deletes a relative path after changing to a directory not known in advance"
        reason = _placement(scan, _norm(posixpath.join(cwd or "/", path)), may_be_root=may_be_root)
        if reason is not None:
            return reason
    return None


def _placement(scan: _Scan, resolved: str, *, may_be_root: bool) -> str | None:
    root = scan.root
    if resolved == root:
        return None if may_be_root else "deletes the workspace itself"
    if _within(resolved, root):
        first = resolved[len(root) :].lstrip("/").split("/")[0]
        return "deletes the repository's .git" if _glob_matches(first, ".git") else None
    if any(_within(resolved, _norm(d)) for d in scan.policy.writable_outside):
        return None
    return "deletes outside the workspace"


def _glob_matches(pattern: str, name: str) -> bool:
    if not any(c in pattern for c in "*?["):
        return pattern == name
    if name.startswith(".") and not pattern.startswith((".", "[")):
        return False
    regex = re.sub(r"\\\[[^\]]*\\\]|\\\[[^\]]*\]", ".", re.escape(pattern))
    regex = regex.replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, name) is not None
