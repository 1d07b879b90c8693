"""The `agent.executor:` settings: read, checked with every problem at once, and wired by bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.bootstrap import _agent_on, agent_factory, agent_sandbox_for, build_executor
from apps.settings import ExecutorSettings, load_settings
from orchcore.errors import AgentUnavailable, ConfigError


def settings_from(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "orch.yaml").write_text(text)
    return load_settings(cwd=tmp_path, environ={})


def test_no_executor_section_means_this_machine(tmp_path: Path) -> None:
    assert settings_from(tmp_path, "agent:\n  command: [make]\n").agent.executor == ExecutorSettings()


def test_an_ssh_executor_is_read_with_its_keys(tmp_path: Path) -> None:
    s = settings_from(
        tmp_path,
        "agent:\n  command: [sh]\n  executor:\n    kind: ssh\n    host: vm1\n    user: dev\n"
        "    port: 2222\n    key_file: keys/id\n    sync: false\n    remote_dir: /srv/work\n",
    )
    e = s.agent.executor
    assert (e.kind, e.host, e.user, e.port, e.key_file, e.sync, e.remote_dir) == (
        "ssh", "vm1", "dev", 2222, "keys/id", False, "/srv/work",
    )  # fmt: skip
    assert s.agent.options == {}  # not mistaken for a key of the agent


def test_an_ssh_executor_without_host_and_user_says_both_with_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, "agent:\n  command: [sh]\n  executor:\n    kind: ssh\n    port: 99999\n")
    message = str(caught.value)
    assert "orch.yaml:3: agent.executor: kind ssh needs host and user" in message
    assert "orch.yaml:5: agent.executor.port: found 99999, expected a port from 1 to 65535" in message


def test_an_unknown_kind_is_reported_with_the_kinds_there_are(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, "agent:\n  executor:\n    kind: vmware\n    image: x\n")
    message = str(caught.value)
    assert "orch.yaml:3: agent.executor.kind: found 'vmware', expected one of: docker, local, ssh" in message
    assert "image" not in message  # a key of some kind: which, nobody can tell without the kind


def test_an_unknown_key_of_an_ssh_executor_is_reported_with_every_other_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, "agent:\n  executor:\n    kind: ssh\n    hots: vm1\n    user: dev\n")
    message = str(caught.value)
    assert "orch.yaml:4: agent.executor.hots: unknown key" in message
    assert "agent.executor: kind ssh needs host" in message


def test_sync_off_needs_the_remote_workspace(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"agent.executor.remote_dir: with sync: false, remote_dir must name"
    ):
        settings_from(
            tmp_path,
            "agent:\n  executor:\n    kind: ssh\n    host: h\n    user: u\n    sync: false\n    remote_dir: ''\n",
        )


def test_bootstrap_builds_the_ssh_executor_with_paths_from_the_config_folder(tmp_path: Path) -> None:
    s = settings_from(
        tmp_path,
        "paths: {state_dir: .orch}\nagent:\n  command: [sh]\n  executor: {kind: ssh, host: vm1, user: dev, key_file: keys/id}\n",
    )
    executor = build_executor(s)
    assert executor.target.key_file == str(tmp_path / "keys" / "id")  # type: ignore[attr-defined]
    assert executor.exclude == (".orch",)  # type: ignore[attr-defined]  # orch's state stays here
    assert executor.guard_dir == str((tmp_path / ".orch" / "guards").resolve())  # type: ignore[attr-defined]


def test_an_agent_that_cannot_take_an_executor_is_refused_on_ssh(tmp_path: Path) -> None:
    s = settings_from(tmp_path, "agent:\n  name: lonely\n  executor: {kind: ssh, host: vm1, user: dev}\n")

    def local_only(config: object, env: object) -> object:
        raise AssertionError("must not be built")

    with pytest.raises(
        AgentUnavailable, match="agent 'lonely' runs on this machine only, not on executor 'ssh'"
    ):
        _agent_on(local_only, "lonely", s, {})  # type: ignore[arg-type]
    assert agent_factory("command")  # the command agent takes one


def test_agents_on_an_ssh_host_are_not_said_to_be_in_the_local_sandbox(tmp_path: Path) -> None:
    s = settings_from(tmp_path, "agent:\n  executor: {kind: ssh, host: vm1, user: dev}\n")
    policy, status = agent_sandbox_for(s, {})
    assert policy is None
    assert status.describe() == "sandbox: off (agents run on ssh host vm1, which is their boundary)"
    assert not status.wanted  # no warning: nothing was lost


def test_the_built_in_executors_are_registered_in_the_entry_point_group_like_a_plugin() -> None:
    import tomllib

    from apps.bootstrap import BUILTIN_EXECUTORS, ENTRY_POINT_GROUP, executor_factory

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    group = pyproject["project"]["entry-points"][ENTRY_POINT_GROUP]
    registered = {k.removeprefix("executor."): v for k, v in group.items() if k.startswith("executor.")}
    assert registered == BUILTIN_EXECUTORS
    with pytest.raises(
        AgentUnavailable, match="unknown executor 'vmware'; known executors: docker, local, ssh"
    ):
        executor_factory("vmware")
