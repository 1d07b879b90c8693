"""The safety policy as data: forbidden operations (rules), the policy, a violation, deny rules."""

from __future__ import annotations

import enum
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import attrs

from orchcore.errors import ConfigError


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
_RAKE = ("db:migrate*", "db:rollback", "db:drop*", "db:reset", "db:schema:load", "db:setup")
_MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("supabase", ("db push", "db reset", "migration up", "migration repair")),
    ("alembic", ("upgrade", "downgrade", "stamp")),
    (
        "prisma",
        ("migrate deploy", "migrate dev", "migrate reset", "migrate resolve", "db push", "db execute"),
    ),
    ("manage.py", ("migrate", "flush")),
    ("django-admin", ("migrate", "flush")),
    ("rails", _RAKE),
    ("rake", _RAKE),
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
    *(_git(sub, _MOVES) for sub in ("rebase", "merge", "pull", "cherry-pick", "revert", "am", "bisect")),
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
    *(_git(f"remote {sub}", _REMOTE_REFS) for sub in ("update", "prune", "set-head")),
    *(_git(f"remote {sub}", _CONFIG) for sub in ("add", "remove", "rm", "rename", "set-url")),
    _git("config", _CONFIG, ArgCheck.GIT_WRITES_CONFIG),
    *(_tool(program, sub, _MIGRATE) for program, subs in _MIGRATIONS for sub in subs),
    _tool("dropdb", "", "drops a database"),
    *(_tool(p, "", _REMOTE_DB, ArgCheck.REMOTE_DB_HOST) for p in ("psql", "pg_restore", "mysql", "mariadb")),
)
"""The operations forbidden by default: git ref, index and config writes, migrations, remote DB clients."""


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return []


def _prefixes(_: object, __: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for prefix in value:
        if not _split(prefix):
            raise ConfigError(f"safety.forbidden_prefixes: {prefix!r} is not a command prefix")


def _absolute_dirs(_: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for path in value:
        if not path.startswith("/") or posixpath.normpath(path) in ("/", "//"):
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

UNCHECKABLE = "uncheckable"
DELETE_OUTSIDE = "delete-outside-workspace"
WRITE_OUTSIDE = "write-outside-workspace"
WRITE_GIT_DIR = "write-into-git-dir"


@attrs.frozen
class Violation:
    """A forbidden operation found: the rule's name, the offending command, and why."""

    rule: str
    command: str
    reason: str

    def __str__(self) -> str:
        command = " ".join(self.command.split())
        if len(command) > 200:
            command = command[:200] + "…"
        return f"forbidden ({self.rule}): {self.reason}: {command}"


@lru_cache(maxsize=64)
def rules_by_program(policy: SafetyPolicy) -> Mapping[str, tuple[Rule, ...]]:
    """The policy's rules and its forbidden prefixes (as rules), by program name."""
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
        rules.append(Rule(f"prefix: {prefix}", posixpath.basename(words[0]), sub, reason, check, flags))
    return rules


def rule_programs(policy: SafetyPolicy) -> list[str]:
    """Every program some rule names (what a PATH shim directory should cover), sorted."""
    return sorted(rules_by_program(policy)) if policy.enabled else []


_DENY_EXTRAS: Mapping[ArgCheck, tuple[str, ...]] = {
    ArgCheck.GIT_RESET_MOVES_REF: tuple(f"git reset {f}" for f in ("--hard", "--soft", "--merge", "--keep")),
    ArgCheck.GIT_SWITCHES_BRANCH: tuple(f"git checkout {f}" for f in ("-b", "-B", "--orphan", "--detach")),
    ArgCheck.GIT_WRITES_BRANCH: tuple(f"git branch {f}" for f in ("-d", "-D", "--delete", "-m", "-M", "-f")),
    ArgCheck.GIT_WRITES_TAG: tuple(f"git tag {f}" for f in ("-d", "--delete", "-a", "-f", "-s")),
    ArgCheck.GIT_WRITES_SYMREF: ("git symbolic-ref -d", "git symbolic-ref --delete"),
}


def command_patterns(policy: SafetyPolicy) -> list[str]:
    """The policy's forbidden commands as patterns for an agent's own permission rules, where
    ``*`` stands for any words (``"git commit *"``, ``"git * commit *"``); each adapter writes them
    in its CLI's syntax (Claude Code: ``Bash(git commit:*)``).

    Best effort only: prefix rules are easy to get around (``git -C . commit`` escapes
    ``git commit *``; the added ``git * commit *`` form catches that one, but not ``sudo git
    commit`` or a script). The hooks, the shims, the git hooks and the ref check are what hold.
    """
    if not policy.enabled:
        return []
    found: list[str] = []
    for rules in rules_by_program(policy).values():
        for rule in rules:
            words = " ".join((rule.program, *rule.subcommand)).rstrip("*").strip()
            if rule.check is ArgCheck.ALWAYS and not rule.unless:
                found.append(f"{words} *")
                if rule.program == "git":
                    found.append(f"git * {' '.join(rule.subcommand)} *")
            elif rule.check is ArgCheck.WITH_FLAGS:
                found.extend(f"{words} {f} *" for f in rule.flags if not f.endswith("*"))
            else:
                found.extend(f"{prefix} *" for prefix in _DENY_EXTRAS.get(rule.check, ()))
    return list(dict.fromkeys(found))
