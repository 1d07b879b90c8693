"""A git working copy as the Workspace port: its refs, and agent-independent guards for a run.

The guards work for every agent because they sit below it: a directory of
git hooks put in force with ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/
``GIT_CONFIG_VALUE_n`` (``core.hooksPath`` for the agent's processes only; the
user's ``.git/config`` is never touched), and a directory of PATH shims for
the programs the policy names, each checking its invocation with
``orchcore.safety`` before running the real program.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs

from adapters.guards.guard_files import WrittenFiles, remove_stale
from adapters.guards.local_files import LOCAL_FILES
from adapters.guards.policy_file import dump_policy
from adapters.guards.shim import REFUSALS_FILE, SHIM_MARKER
from orchcore.errors import ConfigError
from orchcore.ports.executor import SH_SHIMS_ENV
from orchcore.safety import ArgCheck, SafetyPolicy, rule_programs
from orchcore.safety.events import SafetyEvent, parse_refusal
from orchcore.safety.ref_files import refs_from_files
from orchcore.safety.refs import read_refs

logger = logging.getLogger(__name__)

_SHIM_TAG = "# orchcore shim"
_HOOK_TAG = "# orchcore guard hook"
_GIT_TIMEOUT_S = 30.0
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")

_STOP_HOOKS: Mapping[str, tuple[str, str]] = {
    # hook: (the git subcommand whose rule puts it in force, the operation named in the refusal)
    "pre-commit": ("commit", "commit"),
    "pre-merge-commit": ("merge", "merge"),
    "pre-push": ("push", "push"),
    "pre-rebase": ("rebase", "rebase"),
    "pre-applypatch": ("am", "am"),
}
_REF_WRITERS = frozenset(
    {"commit", "push", "reset", "rebase", "merge", "pull", "branch", "tag", "update-ref", "stash", "fetch"}
)


def _record(refusals: Path, operation: str) -> str:
    """The shell line a git hook appends its refusal with (fixed text: nothing of the agent's is echoed)."""
    line = json.dumps(
        {"layer": "git-hook", "command": f"git {operation}", "reason": f"{operation} is forbidden for agents"}
    )
    return f"printf '%s\\n' {shlex.quote(line)} >> {shlex.quote(str(refusals))} 2>/dev/null\n"


def _hook_script(hook: str, operation: str, refusals: Path) -> str:
    drain = "cat >/dev/null\n" if hook == "pre-push" else ""  # git feeds it the refs to push
    return (
        f"#!/bin/sh\n{_HOOK_TAG}: put in force for agent runs only, through GIT_CONFIG_* (core.hooksPath)\n"
        f'{drain}echo "orchcore: {operation} is forbidden for agents" >&2\n{_record(refusals, operation)}exit 1\n'
    )


# git's global options that take the next word as their value: the subcommand comes after them
_GIT_VALUE_OPTIONS = (
    "-C|-c|--git-dir|--work-tree|--namespace|--super-prefix|--config-env|--exec-path|--list-cmds"
)


def _sh_shim(program: str, refusals: Path, refused: Mapping[str, tuple[str, str]]) -> str:
    """A shim in plain sh for ``program``: refuses the subcommands in ``refused`` (subcommand ->
    (rule, reason); "" for the whole program), else runs the real one (first on PATH outside
    the shim folders). Only what needs no argument parsing: the Python shim checks the rest."""
    cases = []
    for sub, (rule, reason) in sorted(refused.items()):
        shown = f"{program} {sub}".strip()
        message = f"forbidden ({rule}): {reason}: {shown}"
        line = json.dumps({"layer": "shim", "command": shown, "reason": message})
        pattern = shlex.quote(sub) if sub else "*"
        cases.append(
            f"  {pattern}) echo {shlex.quote('orchcore: ' + message)} >&2\n"
            f"    printf '%s\\n' {shlex.quote(line)} >> {shlex.quote(str(refusals))} 2>/dev/null; exit 126 ;;\n"
        )
    if program == "git" and "" not in refused:
        find_sub = (
            'skip=0; sub=\nfor a in "$@"; do\n'
            '  if [ "$skip" = 1 ]; then skip=0; continue; fi\n'
            f'  case "$a" in {_GIT_VALUE_OPTIONS}) skip=1 ;; -*) ;; *) sub=$a; break ;; esac\n'
            "done\n"
        )
    else:
        find_sub = "sub=\n"
    real = (
        f'IFS=:; for d in $PATH; do [ -e "$d/{SHIM_MARKER}" ] && continue\n'
        f'  [ -x "$d/{program}" ] && {{ unset IFS; exec "$d/{program}" "$@"; }}\n'
        "done\n"
        f"echo 'orchcore: {program}: command not found (outside the shim directory)' >&2; exit 127\n"
    )
    return (
        f"#!/bin/sh\n{_SHIM_TAG} (sh): refuses what the safety policy always forbids, "
        f"runs the real {program} otherwise\n"
        f'{find_sub}case "$sub" in\n{"".join(cases)}esac\n{real}'
    )


def sh_refusals(policy: SafetyPolicy) -> dict[str, dict[str, tuple[str, str]]]:
    """What the plain-sh shims refuse: program -> subcommand ("" = any use) -> (rule, reason), from
    the rules that need no look at the arguments (always, one git subcommand or the whole program)."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    for rule in policy.rules:
        if (
            rule.check is not ArgCheck.ALWAYS
            or rule.flags
            or rule.unless
            or not _SAFE_NAME.fullmatch(rule.program)
        ):
            continue
        if rule.subcommand == ():
            found.setdefault(rule.program, {})[""] = (rule.name, rule.reason)
        elif rule.program == "git" and len(rule.subcommand) == 1 and _SAFE_NAME.fullmatch(rule.subcommand[0]):
            found.setdefault("git", {}).setdefault(rule.subcommand[0], (rule.name, rule.reason))
    return found


PUSH_BLOCKED = "orchcore-push-forbidden"
"""The URL scheme every push URL is rewritten to (``url.<scheme>://.pushInsteadOf`` = "")."""


def _push_helper(refusals: Path) -> str:
    return (
        f"#!/bin/sh\n{_SHIM_TAG}: git's remote helper for {PUSH_BLOCKED}://, where agent pushes are sent\n"
        'echo "orchcore: push is forbidden for agents" >&2\n'
        f"{_record(refusals, 'push')}exit 1\n"
    )


def _reference_transaction(refusals: Path) -> str:
    return (
        f"#!/bin/sh\n{_HOOK_TAG}: aborts every ref update an agent's git would make\n"
        '[ "$1" = prepared ] || exit 0\ncat >/dev/null\n'
        'echo "orchcore: ref update is forbidden for agents" >&2\n'
        f"{_record(refusals, 'ref update')}exit 1\n"
    )


@attrs.frozen
class GitWorkspace:
    """The user's working copy at ``workdir``; guard files go to ``guard_dir`` (outside it).

    Satisfies ``orchcore.ports.Workspace``. ``refs`` only reads (``git
    --no-optional-locks``). ``guard_env`` (re)writes, idempotently, under
    ``guard_dir``: ``policy.json``, ``git-hooks/`` and ``bin/`` (the shims), and
    returns the environment additions that put them in force. ``python`` runs the
    shim module (``-I``: isolated, so a package in the workspace cannot shadow it).
    """

    workdir: str
    guard_dir: str
    git: str = "git"
    python: str = attrs.field(factory=lambda: sys.executable)
    _installed: dict[str, tuple[SafetyPolicy, str, dict[str, str], WrittenFiles]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )

    def refs(self) -> dict[str, str]:
        """Every ref and ``HEAD`` (``"ref: refs/heads/x"`` or an object id); empty outside a repository."""
        found = refs_from_files(os.path.realpath(self.workdir), LOCAL_FILES)
        return read_refs(self._git) if found is None else found

    def guard_env(self, policy: SafetyPolicy, base_path: str) -> dict[str, str]:
        """Write the guards for ``policy`` and return the environment that puts them in force.

        ``PATH`` gets the shim directory in front of ``base_path``; git gets, through
        ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``,
        ``core.hooksPath`` and a ``pushInsteadOf`` that sends every push to a
        transport that refuses. A disabled policy installs nothing and adds nothing.
        Raises ConfigError if the guard directory cannot be written.
        """
        if not policy.enabled:
            return {}
        last = self._installed.get("last")
        if last is not None and last[0] == policy and last[1] == base_path and last[3].intact():
            return dict(last[2])
        try:
            written = WrittenFiles()
            env = self._install(policy, base_path, written)
            written.seal(self.refusals_dir)
            self._installed["last"] = (policy, base_path, env, written)
            return dict(env)
        except OSError as exc:
            raise ConfigError(f"cannot write the agent guards into {self.guard_dir}: {exc}") from exc

    def _install(self, policy: SafetyPolicy, base_path: str, written: WrittenFiles) -> dict[str, str]:
        guard = Path(self.guard_dir)
        policy_path = guard / "policy.json"
        written.write(policy_path, dump_policy(policy) + "\n", 0o644)
        programs = [p for p in rule_programs(policy) if _SAFE_NAME.fullmatch(p)]
        shims = guard / "bin"
        written.write(
            shims / SHIM_MARKER, "PATH shims of orchcore; never on PATH outside an agent run\n", 0o644
        )
        for program in programs:
            written.write(shims / program, self._shim_script(policy_path, program), 0o755)
        block_push = any(r.program == "git" and r.subcommand == ("push",) for r in policy.rules)
        helpers = [f"git-remote-{PUSH_BLOCKED}"] if block_push else []
        for helper in helpers:
            written.write(shims / helper, _push_helper(guard / REFUSALS_FILE), 0o755)
        remove_stale(shims, keep={*programs, *helpers, SHIM_MARKER}, tag=_SHIM_TAG)
        sh_shims = guard / "sh-bin"  # the same guards where orch's Python is not (a container)
        written.write(
            sh_shims / SHIM_MARKER, "plain-sh shims of orchcore; never on PATH outside an agent run\n", 0o644
        )
        refused = sh_refusals(policy)
        for program, subcommands in refused.items():
            written.write(sh_shims / program, _sh_shim(program, guard / REFUSALS_FILE, subcommands), 0o755)
        for helper in helpers:
            written.write(sh_shims / helper, _push_helper(guard / REFUSALS_FILE), 0o755)
        remove_stale(sh_shims, keep={*refused, *helpers, SHIM_MARKER}, tag=_SHIM_TAG)
        self.refusals_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{shims}{os.pathsep}{base_path}" if base_path else str(shims),
            SH_SHIMS_ENV: str(sh_shims),
        }
        config: list[tuple[str, str]] = []
        hooks = self._write_hooks(policy, guard / "git-hooks", written)
        if hooks is not None:
            config.append(("core.hooksPath", hooks))
        if block_push:  # every push URL goes to a transport that refuses: holds with --no-verify
            config.append((f"url.{PUSH_BLOCKED}://.pushInsteadOf", ""))
        if config:
            env["GIT_CONFIG_COUNT"] = str(len(config))
            for i, (key, value) in enumerate(config):
                env |= {f"GIT_CONFIG_KEY_{i}": key, f"GIT_CONFIG_VALUE_{i}": value}
        return env

    def _write_hooks(self, policy: SafetyPolicy, hooks: Path, written: WrittenFiles) -> str | None:
        subcommands = {r.subcommand[0] for r in policy.rules if r.program == "git" and r.subcommand}
        if not subcommands:
            return None
        wanted = {hook: op for hook, (sub, op) in _STOP_HOOKS.items() if sub in subcommands}
        refusals = Path(self.guard_dir) / REFUSALS_FILE
        for hook, operation in wanted.items():
            written.write(hooks / hook, _hook_script(hook, operation, refusals), 0o755)
        if subcommands & _REF_WRITERS:
            wanted["reference-transaction"] = "ref update"
            written.write(hooks / "reference-transaction", _reference_transaction(refusals), 0o755)
        remove_stale(hooks, keep=set(wanted), tag=_HOOK_TAG)
        return str(hooks)

    @property
    def refusals_dir(self) -> Path:
        """Where the guards record refusals: the one folder under ``guard_dir`` they must be able to write
        (a sandbox binds it writable and the rest of ``guard_dir`` read-only)."""
        return (Path(self.guard_dir) / REFUSALS_FILE).parent

    def take_refusals(self) -> list[SafetyEvent]:
        """What the shims and git hooks refused since the last call; the file is emptied (renamed away).

        A line that is not a refusal (torn, edited) is skipped with a warning: a
        guard can only ever report a refusal, never clear one.
        """
        path = Path(self.guard_dir) / REFUSALS_FILE
        taken = path.with_name(f".{path.name}.{os.getpid()}.taken")
        try:
            path.replace(taken)  # a guard appending meanwhile creates a fresh file
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigError(f"cannot read the agent guards' refusals in {path}: {exc}") from exc
        try:
            text = taken.read_text(encoding="utf-8", errors="replace")
        finally:
            taken.unlink(missing_ok=True)
        found = []
        for number, line in enumerate(text.splitlines(), 1):
            try:
                data = json.loads(line)
            except ValueError:
                data = None
            refusal = parse_refusal(data) if isinstance(data, dict) else None
            if refusal is None:
                logger.warning(
                    "skipping a line that is no refusal", extra={"path": str(path), "line": number}
                )
                continue
            found.append(refusal)
        return found

    def _shim_script(self, policy_path: Path, program: str) -> str:
        command = shlex.join(
            [self.python, "-I", "-m", "adapters.guards.shim", str(policy_path), self.workdir, program]
        )
        return f'#!/bin/sh\n{_SHIM_TAG}: refuses what the safety policy forbids, runs the real {program} otherwise\nexec {command} "$@"\n'

    def _git(self, *args: str) -> str | None:
        argv = [self.git, "--no-optional-locks", "-C", self.workdir, *args]
        try:
            done = subprocess.run(  # noqa: S603 - a fixed git command line, no shell
                argv,
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT_S,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise ConfigError(f"cannot run git ({self.git}) in {self.workdir}: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise ConfigError(
                f"git ({self.git}) did not answer in {_GIT_TIMEOUT_S:g} s in {self.workdir}"
            ) from exc
        return done.stdout if done.returncode == 0 else None
