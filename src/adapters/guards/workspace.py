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
from orchcore.safety import SafetyPolicy, rule_programs
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
        self.refusals_dir.mkdir(parents=True, exist_ok=True)
        env = {"PATH": f"{shims}{os.pathsep}{base_path}" if base_path else str(shims)}
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
