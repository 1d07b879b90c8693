"""The composition root: settings in, wired adapters out. The only module that
imports adapters (import-linter enforces it); tests build a Runtime themselves.

Agents are found by name in one registry: the built-ins below, then the
``orchcore.adapters`` entry-point group (``agent.NAME = "pkg.module:factory"``),
so a user's agent is wired exactly like ours. A factory is called as
``factory(agent_config: dict, base_env: dict) -> Agent``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, cast

import attrs

from apps.settings import Settings, agent_environment
from orchcore.engine import Engine, Watcher
from orchcore.errors import AgentUnavailable
from orchcore.ports.agent import Agent
from orchcore.ports.clock import Clock, Ids
from orchcore.ports.logs import TaskLogs
from orchcore.ports.store import Store

ENTRY_POINT_GROUP = "orchcore.adapters"
BUILTIN_AGENTS: dict[str, str] = {
    "command": "adapters.command.agent:from_config",
    "claude": "adapters.claude_code.agent:from_config",
    "claude_code": "adapters.claude_code.agent:from_config",
}

AgentFactory = Callable[[Mapping[str, object], Mapping[str, str]], Agent]


def _load(target: str) -> AgentFactory:
    module_name, _, attr = target.partition(":")
    return cast(AgentFactory, getattr(importlib.import_module(module_name), attr))


def agent_factory(name: str) -> AgentFactory:
    """The factory registered for agent ``name``; AgentUnavailable lists the known names."""
    if name in BUILTIN_AGENTS:
        return _load(BUILTIN_AGENTS[name])
    found = {
        ep.name.removeprefix("agent."): ep
        for ep in entry_points(group=ENTRY_POINT_GROUP)
        if ep.name.startswith("agent.")
    }
    if name in found:
        return cast(AgentFactory, found[name].load())
    known = sorted({*BUILTIN_AGENTS, *found})
    raise AgentUnavailable(f"unknown agent {name!r}; known agents: {', '.join(known)}")


@attrs.define
class Runtime:
    """Everything a front end needs, wired from settings."""

    settings: Settings
    store: Store
    logs: TaskLogs
    clock: Clock
    ids: Ids
    agents: Callable[[str], Agent]

    def engine(self, agent: Agent, watch: Watcher) -> Engine:
        from adapters.files.questions import FileQuestions

        s = self.settings
        workdir = str(s.path(s.paths.workdir))
        return Engine(
            store=self.store,
            agent=agent,
            clock=self.clock,
            ids=self.ids,
            logs=self.logs,
            policy=s.approval_policy(),
            budget=s.budget_policy(),
            retry=s.retry_policy(),
            workdir=workdir,
            questions=FileQuestions(workdir),
            timeout_s=s.agent.timeout_s,
            watch=watch,
        )

    def close(self) -> None:
        self.store.close()


def build_runtime(settings: Settings) -> Runtime:
    """Wire the real adapters: SQLite state, file logs, the system clock."""
    from adapters.files.logs import FileLogs
    from adapters.sqlite.store import SqliteStore
    from adapters.system.clock import RandomIds, SystemClock

    def make_agent(name: str) -> Agent:
        config: dict[str, Any] = {**settings.agent.options, **attrs.asdict(settings.agent)}
        del config["options"]
        config["command"] = list(settings.agent.command)
        return agent_factory(name)(config, agent_environment(settings))

    return Runtime(
        settings=settings,
        store=SqliteStore(str(settings.db_path)),
        logs=FileLogs(str(settings.logs_dir)),
        clock=SystemClock(),
        ids=RandomIds(),
        agents=make_agent,
    )
