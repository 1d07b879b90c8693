"""The shell-aware matcher: every simple command a command line runs, checked against the rules.

Bash's own grammar (tree-sitter-bash, ``grammar.py``) finds the commands
wherever they sit: lists, pipelines, subshells, groups, functions, loops,
``$(...)``, backticks, ``<(...)``, here-documents. What it cannot resolve
statically (a program or subcommand chosen by a variable or substitution,
``eval``/``bash -c`` of run-time text, a parse error) is refused as
``uncheckable`` rather than guessed; text that does not parse is still scanned
word by word first, so a visible forbidden command gets its own rule's name.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Mapping, Sequence

import attrs

from orchcore.ports.agent_events import ToolAction, ToolCall
from orchcore.safety import arguments as a
from orchcore.safety import grammar
from orchcore.safety.arguments import Expanded
from orchcore.safety.policy import (
    DELETE_OUTSIDE,
    UNCHECKABLE,
    WRITE_GIT_DIR,
    WRITE_OUTSIDE,
    ArgCheck,
    Rule,
    SafetyPolicy,
    Violation,
    rules_by_program,
)
from orchcore.safety.wrappers import SHELLS, WRAPPERS, Runs, inner_command

_MAX_DEPTH = 8
_MAX_UNWRAP = 64
_MAX_CWDS = 256  # each relative `cd` may double them (it may not have happened)
_RAW_WINDOW = 64  # words after a program that the word scan reads as its arguments
_DELETERS = frozenset({"rm", "unlink", "rmdir", "shred"})


def check_command(policy: SafetyPolicy, command: str, workdir: str) -> Violation | None:
    """The first forbidden operation in a shell command line, or None if it is allowed.

    Looks through the shell grammar (see the module), ``bash -c``/``sh -c``/``eval``,
    here-strings and ``echo ... | sh``, wrappers (``env``, ``sudo``, ``command``,
    ``exec``, ``nohup``, ``time``, ``timeout``, ``xargs``, ``npx``, ``uv run``,
    ``python -m``, ...), git's global options and ``-c alias.*``, and ``cd``
    (relative deletes are resolved against every directory the command may be
    in). ``workdir`` is the workspace (absolute). Never raises.
    """
    if not policy.enabled:
        return None
    scan = _Scan(policy, _root(workdir))
    return _guarded(lambda: _check_text(scan, command), scan, command)


def check_argv(
    policy: SafetyPolicy, argv: Sequence[str], workdir: str, env: Mapping[str, str] | None = None
) -> Violation | None:
    """Like ``check_command`` for an exec'd argv (no shell involved); ``env`` gives PGHOST and the like."""
    if not policy.enabled or not argv:
        return None
    scan = _Scan(policy, _root(workdir), env=dict(env or {}))
    return _guarded(lambda: _check_argv(scan, list(argv), {}), scan, shlex.join(argv))


_WRITING = frozenset({ToolAction.WRITE, ToolAction.EDIT})


def check_tool_use(policy: SafetyPolicy, call: ToolCall, workdir: str) -> Violation | None:
    """The violation in one agent tool call, or None, whichever agent made it.

    A SHELL call's ``command`` is checked with ``check_command``; a WRITE or EDIT call
    must target files inside the workspace and not in its ``.git`` (each of its
    ``paths``). Other actions are allowed. Never raises.
    """
    if not policy.enabled:
        return None
    if call.action is ToolAction.SHELL:
        return check_command(policy, call.command, workdir) if call.command is not None else None
    if call.action not in _WRITING or not policy.workspace_only_writes:
        return None
    for path in call.paths:
        reason = a.write_reason(path, _root(workdir), policy.writable_outside)
        if reason is not None:
            rule = WRITE_GIT_DIR if reason == a.GIT_DIR_WRITE else WRITE_OUTSIDE
            return Violation(rule, f"{call.tool} {path}", reason)
    return None


@attrs.define
class _Scan:
    """Where a scan stands: the policy, the workspace, the directories it may be in, the env."""

    policy: SafetyPolicy
    root: str
    cwds: list[str | None] = attrs.Factory(lambda self: [self.root], takes_self=True)
    env: dict[str, str] = attrs.Factory(dict)
    depth: int = 0
    # looked up once per check: hashing the policy for the cache on every command costs more than the check
    rules: Mapping[str, tuple[Rule, ...]] = attrs.Factory(
        lambda self: rules_by_program(self.policy), takes_self=True
    )

    aliases: dict[str, str] = attrs.Factory(dict)  # agents' shells may expand them (Claude Code's does)

    def child(self) -> _Scan:
        """A nested shell (``bash -c``, ``$(...)``): same place, its own changes."""
        return _Scan(
            self.policy,
            self.root,
            list(self.cwds),
            dict(self.env),
            self.depth + 1,
            self.rules,
            dict(self.aliases),
        )

    def chdir(self, target: str | None) -> None:
        """Record a ``cd``; the old directories stay possible (subshells, ``||``, pipes)."""
        merged = list(dict.fromkeys([*self.cwds, *(_moved(cwd, target) for cwd in self.cwds)]))
        self.cwds = merged if len(merged) <= _MAX_CWDS else [*merged[: _MAX_CWDS - 1], None]


def _moved(cwd: str | None, target: str | None) -> str | None:
    """Where ``cd target`` from ``cwd`` lands; None when that is only known at run time."""
    if target is None or target.startswith("~") or target == "-" or any(c in target for c in "$`"):
        return None
    if cwd is None and not target.startswith("/"):
        return None
    return a.norm(posixpath.join(cwd or "/", target))


def _guarded(check: Callable[[], Violation | None], scan: _Scan, text: str) -> Violation | None:
    try:
        return check()
    except Exception:  # noqa: BLE001, S110 - a matcher must answer: fall back to the word scan
        pass
    refused = Violation(UNCHECKABLE, text, "the command could not be checked")
    try:
        return _raw_scan(_Scan(scan.policy, scan.root), text) or refused
    except Exception:  # noqa: BLE001 - and if even that fails, the answer is the cautious one
        return refused


def _root(workdir: str) -> str:
    return a.norm(workdir if workdir.startswith("/") else "/" + workdir)


# --------------------------------------------------------------------------- text


def _check_text(scan: _Scan, text: str) -> Violation | None:
    if scan.depth > _MAX_DEPTH:
        return Violation(UNCHECKABLE, text, "the command nests too deeply to be checked")
    script = grammar.parse(text)
    if script is None:  # bash runs what it parsed before an error: so look, then refuse
        found = _raw_scan(scan, text)
        return found or Violation(
            UNCHECKABLE, text, "the command does not parse as shell, so it cannot be checked"
        )
    if script.too_deep:
        return Violation(UNCHECKABLE, text, "the command nests too deeply to be checked")
    unsure: Violation | None = None  # a definite violation further on is the better answer
    for item in script.items:
        found = _check_item(scan, item)
        if found is not None and found.rule != UNCHECKABLE:
            return found
        unsure = unsure or found
    return unsure


def _check_item(scan: _Scan, item: grammar.Item) -> Violation | None:
    if isinstance(item, grammar.Command):
        if not item.words:
            scan.env.update(item.env)
            return None
        return _check_argv(scan, list(item.words), item.env, item.stdin)
    if isinstance(item, grammar.Assignment):
        scan.env[item.name] = item.value  # stays for the commands after it (PGHOST=... psql)
        return None
    if isinstance(item, grammar.Write):
        reason = a.git_dir_write_reason(item.target, scan.cwds, scan.root)
        if reason is not None:
            return Violation(WRITE_GIT_DIR, item.text, reason)
        if scan.policy.workspace_only_writes:
            outside = a.redirect_outside_reason(
                item.target, scan.cwds, scan.root, scan.policy.writable_outside
            )
            if outside is not None:
                return Violation(WRITE_OUTSIDE, item.text, outside)
        return None
    return _check_text(scan.child(), item.text)


_DECLARE = frozenset({"export", "declare", "typeset", "local", "readonly"})


def _raw_scan(scan: _Scan, text: str) -> Violation | None:
    """Unparseable text: check the words after every program of interest as if they were a command."""
    words = re.findall(r"[^\s;&|()<>`'\"]+", text)
    interesting = {*scan.rules, *WRAPPERS, *SHELLS, *_DELETERS, "find", "eval", "env"}
    for i, word in enumerate(words):
        program = posixpath.basename(word)
        if program in interesting or program.startswith("git-"):
            found = _check_argv(scan, words[i : i + _RAW_WINDOW], {})
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------- one command


def _check_argv(
    scan: _Scan, argv: list[str], env: Mapping[str, str], stdin: Sequence[str] = ()
) -> Violation | None:
    words, env = list(argv), dict(env)
    for _ in range(_MAX_UNWRAP):
        if not words:
            return None
        if isinstance(words[0], Expanded):
            return Violation(
                UNCHECKABLE,
                shlex.join(words),
                f"the program to run ({words[0]}) is only known at run time, so it cannot be checked",
            )
        program, args = posixpath.basename(words[0]), words[1:]
        if words[0] in scan.aliases:  # bash does not expand an alias again inside its own text
            inner_scan = scan.child()
            expansion = inner_scan.aliases.pop(words[0])
            return _check_text(inner_scan, " ".join([expansion, *map(shlex.quote, args)]))
        inner = inner_command(program, args, stdin)
        if inner is None:
            return _check_program(scan, program, args, env, shlex.join(words))
        if isinstance(inner, Runs):
            if inner.chdir is not None:
                scan = scan.child()
                scan.chdir(inner.chdir)
            words, env = list(inner.argv), {**env, **inner.env}  # stdin goes through wrappers
            continue
        for text in inner.texts:
            if isinstance(text, Expanded):
                return Violation(
                    UNCHECKABLE,
                    shlex.join(words),
                    "it runs shell text only known at run time, so it cannot be checked",
                )
            found = _check_text(scan.child(), text)
            if found is not None:
                return found
        return None
    return Violation(UNCHECKABLE, shlex.join(argv), "too many nested wrappers to check")


def _check_program(
    scan: _Scan, program: str, args: list[str], env: Mapping[str, str], text: str
) -> Violation | None:
    if program in ("cd", "pushd", "popd"):
        i = a.skip_options(args, set())
        scan.chdir(args[i] if i < len(args) and program != "popd" else None)
        return None
    if program == "alias":
        for arg in args:
            name, equals, value = arg.partition("=")
            if equals:
                scan.aliases[name] = value
        return None
    if program in _DECLARE:
        scan.env.update(a.assignments(args, a.skip_options(args, set()))[0])
        return None
    if program in _DELETERS and scan.policy.workspace_only_deletes:
        value_opts = (
            {"-n", "-s", "--iterations", "--size", "--random-source"} if program == "shred" else set()
        )
        for target in a.positionals(args, value_opts):
            found = _delete(scan, target, text, may_be_root=False)
            if found is not None:
                return found
    if program == "find":
        return _check_find(scan, args, env, text)
    if program == "git" or (program.startswith("git-") and len(program) > 4):
        return _check_git(scan, args if program == "git" else [program[4:], *args], env, text)
    words = a.positionals(args, a.VALUE_OPTIONS.get(program, frozenset()))
    for rule in scan.rules.get(program, ()):
        start = a.find_run(words, rule.subcommand)
        if start is None:
            if rule.subcommand and _may_run(words, rule.subcommand):
                maybe = f"its arguments are only known at run time and may be `{program} {' '.join(rule.subcommand)}`"
                return Violation(UNCHECKABLE, text, maybe)
            continue
        tail = words[start + len(rule.subcommand) :]
        if rule.unless and tail[:1] and tail[0] in rule.unless:
            continue
        reason = _applies(scan, rule, program, args, env)
        if reason is not None:
            return Violation(rule.name, text, reason)
    return None


def _applies(scan: _Scan, rule: Rule, program: str, args: list[str], env: Mapping[str, str]) -> str | None:
    """``rule.reason`` (maybe with a detail) if the arguments make the rule apply, else None."""
    if rule.check is ArgCheck.ALWAYS:
        return rule.reason
    if rule.check is ArgCheck.WITH_FLAGS:
        return rule.reason if a.has_flag(args, rule.flags) else None
    if rule.check is ArgCheck.REMOTE_DB_HOST:
        host = a.remote_db_host(program, args, {**scan.env, **env})
        return None if host is None else f"{rule.reason} ({host or 'host known only at run time'})"
    return rule.reason if a.GIT_CHECKS[rule.check](args) else None


def _may_run(words: Sequence[str], run: Sequence[str]) -> bool:
    """``run`` could occur in ``words`` once run-time words are filled in (they match anything)."""
    return any(
        all(isinstance(w, Expanded) or a.word_matches(p, w) for p, w in zip(run, words[start:], strict=False))
        for start in range(len(words) - len(run) + 1)
        if any(isinstance(w, Expanded) for w in words[start : start + len(run)])
    )


def _check_git(scan: _Scan, args: list[str], env: Mapping[str, str], text: str) -> Violation | None:
    indexes, aliases = a.git_subcommand_indexes(args)
    for index in indexes:
        if index >= len(args):
            continue
        sub, rest = args[index], args[index + 1 :]
        if isinstance(sub, Expanded):
            return Violation(UNCHECKABLE, text, f"git's subcommand ({sub}) is only known at run time")
        alias = aliases.get(sub.lower())
        if alias is not None:
            found = _check_git_alias(scan.child(), alias, args[:index], rest, env, text)
            if found is not None:
                return found
            continue
        for rule in scan.rules.get("git", ()):
            if not rule.subcommand or not a.word_matches(rule.subcommand[0], sub):
                continue
            tail = a.consume(rest, rule.subcommand[1:])
            if tail is None:
                continue
            if rule.unless and (first := a.positionals(tail, set())[:1]) and first[0] in rule.unless:
                continue
            reason = _applies(scan, rule, "git", tail, env)
            if reason is not None:
                return Violation(rule.name, text, reason)
    return None


def _check_git_alias(
    scan: _Scan, alias: str, before: list[str], rest: list[str], env: Mapping[str, str], text: str
) -> Violation | None:
    if alias.startswith("!"):
        return _check_text(scan, " ".join([alias[1:], *map(shlex.quote, rest)]))
    if scan.depth > _MAX_DEPTH:
        return Violation(UNCHECKABLE, text, "git aliases nest too deeply to be checked")
    return _check_git(scan, [*before, *(_split(alias) or alias.split()), *rest], env, text)


def _split(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def _check_find(scan: _Scan, args: list[str], env: Mapping[str, str], text: str) -> Violation | None:
    i = 0
    while i < len(args) and (args[i] in ("-H", "-L", "-P") or re.fullmatch(r"-O\d", args[i])):
        i += 1
    i += 2 if i < len(args) and args[i] == "-D" else 0
    starts = []
    while i < len(args) and not args[i].startswith("-") and args[i] not in ("(", "!", ")", ","):
        starts.append(args[i])
        i += 1
    expression = args[i:]
    deleting = "-delete" in expression
    for j, arg in enumerate(expression):
        if arg not in ("-exec", "-execdir", "-ok", "-okdir"):
            continue
        inner = []
        for word in expression[j + 1 :]:
            if word in (";", "+"):
                break
            inner.append(word)
        if inner and posixpath.basename(inner[0]) in _DELETERS:
            deleting, inner = True, [w for w in inner if w != "{}"]
        found = _check_argv(scan, inner, env) if inner else None
        if found is not None:
            return found
    if deleting and scan.policy.workspace_only_deletes:
        for start in starts or ["."]:
            found = _delete(scan, start, text, may_be_root=True)
            if found is not None:
                return found
    return None


def _delete(scan: _Scan, path: str, text: str, *, may_be_root: bool) -> Violation | None:
    allowed = scan.policy.writable_outside
    reason = a.delete_reason(path, scan.cwds, scan.root, allowed, may_be_root=may_be_root)
    return None if reason is None else Violation(DELETE_OUTSIDE, text, reason)
