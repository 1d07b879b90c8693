"""The Docker executor: each attempt's command runs in a fresh container of the configured image,
the workspace bind-mounted, and the container is gone when the attempt is over.

What the container gets: the workspace (read-write, at its own path unless configured),
the sandbox policy's other writable paths and its readable ones (read-only), no network
unless configured, no capabilities, no new privileges, the configured memory/CPU/pids
limits, and the agent's environment less the host's PATH and HOME.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from adapters.docker.config import API_VERSION, FIELD, DockerConfig, docker_config
from adapters.docker.container import (
    LABEL_PREFIX,
    ContainerCommand,
    ContainerOutcome,
    Mount,
    host_pid,
    reap_containers,
    run_container,
)
from orchcore.errors import AgentUnavailable
from orchcore.sandbox import AttemptProcess, SandboxPolicy

RUN_MARKER = "ORCHCORE_AGENT_RUN"
"""The same name as adapters.process's marker: the local reaper finds a container's processes by it
after a crash (when the daemon is on this machine); the labels find the container itself."""
SESSION_LABEL = f"{LABEL_PREFIX}.session"
TASK_LABEL = f"{LABEL_PREFIX}.task"
ATTEMPT_LABEL = f"{LABEL_PREFIX}.attempt"
_CLIENT_TIMEOUT_S = 60


def _start_ticks(pid: int) -> int:
    """When ``pid`` started, in clock ticks since boot (what identifies it with its pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[19]) if len(fields) > 19 else 0


class DockerExecutor:
    """Runs an agent's command in a container on a Docker daemon (local or remote)."""

    def __init__(self, config: DockerConfig) -> None:
        self._config = config
        self._client: docker.DockerClient | None = None

    @property
    def config(self) -> DockerConfig:
        """The settings this executor was built with."""
        return self._config

    def _daemon(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.DockerClient(
                base_url=self._config.host, version=API_VERSION, timeout=_CLIENT_TIMEOUT_S
            )
        return self._client

    def close(self) -> None:
        """Release the connection to the daemon."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def check(self) -> None:
        """Raise AgentUnavailable, naming the config field, unless the daemon answers and has the image."""
        _probe_unix_socket(self._config.host)
        client = self._daemon()
        try:
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            self.close()
            raise AgentUnavailable(
                f"cannot reach the Docker daemon at {self._config.host} ({FIELD}.host): {_why(exc)}; "
                "is dockerd running, and may this user open its socket?"
            ) from exc
        try:
            client.images.get(self._config.image)
        except docker.errors.ImageNotFound as exc:
            raise AgentUnavailable(
                f"the image {self._config.image!r} is not on the Docker daemon at {self._config.host} "
                f"({FIELD}.image): build or load it there first (orch pulls nothing)"
            ) from exc
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise AgentUnavailable(
                f"the Docker daemon at {self._config.host} ({FIELD}.host) failed: {_why(exc)}"
            ) from exc

    def reap(self, labels: Mapping[str, str]) -> list[str]:
        """Remove what an earlier run left with these labels (e.g. ``{SESSION_LABEL: id}``)."""
        try:
            return reap_containers(self._daemon(), labels)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise AgentUnavailable(
                f"cannot reach the Docker daemon at {self._config.host} ({FIELD}.host): {_why(exc)}"
            ) from exc

    def run_command(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        stdin_text: str | None,
        log_path: str,
        timeout_s: float,
        on_line: Callable[[str], str | None],
        on_tick: Callable[[], str | None],
        idle_timeout_s: float | None = None,
        tick_s: float = 1.0,
        sandbox: SandboxPolicy | None = None,
        on_start: Callable[[AttemptProcess], None] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> ContainerOutcome:
        """Run ``argv`` in a new container (removed after); the same contract as a local run."""
        self.check()
        env = dict(env)
        marker = env.setdefault(RUN_MARKER, uuid.uuid4().hex)
        tags = dict(labels or {})
        if SESSION_LABEL in tags and TASK_LABEL in tags:  # a crashed run's container of this task
            self.reap({SESSION_LABEL: tags[SESSION_LABEL], TASK_LABEL: tags[TASK_LABEL]})
        command = ContainerCommand(
            argv=tuple(argv),
            workdir=cwd,
            env=env,
            stdin_text=stdin_text,
            log_path=log_path,
            timeout_s=timeout_s,
            idle_timeout_s=idle_timeout_s,
            tick_s=tick_s,
            mounts=_mounts(sandbox),
            labels=tags,
        )

        def started(container: Any) -> None:
            pid = host_pid(container, f"{RUN_MARKER}={marker}")
            if on_start is not None and pid:
                on_start(AttemptProcess(group=pid, leader_start=_start_ticks(pid), marker=marker))

        try:
            return run_container(
                self._daemon(), self._config, command, on_line=on_line, on_tick=on_tick, on_start=started
            )
        except docker.errors.ImageNotFound as exc:
            raise AgentUnavailable(f"the image {self._config.image!r} is gone ({FIELD}.image)") from exc
        except docker.errors.APIError as exc:
            raise AgentUnavailable(f"the Docker daemon refused the container: {_why(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise AgentUnavailable(
                f"lost the Docker daemon at {self._config.host} ({FIELD}.host): {_why(exc)}"
            ) from exc


def _probe_unix_socket(host: str) -> None:
    """Raise AgentUnavailable, saying why, if a ``unix://`` daemon socket takes no connection
    (checked here: the SDK's failed connect leaves its socket open)."""
    if not host.startswith("unix://"):
        return
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError as exc:
            raise AgentUnavailable(
                f"cannot reach the Docker daemon at {host} ({FIELD}.host): {exc.strerror or exc}; "
                "is dockerd running, and may this user open its socket?"
            ) from exc


def _mounts(sandbox: SandboxPolicy | None) -> tuple[Mount, ...]:
    """The sandbox policy's paths as bind mounts: writable ones read-write, readable ones read-only."""
    if sandbox is None:
        return ()
    return (
        *(Mount(path, writable=True) for path in sandbox.writable),
        *(Mount(path) for path in sandbox.readable),
    )


def _why(exc: BaseException) -> str:
    """A library error as one short line (the SDK's explanation when it has one)."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def from_config(config: Mapping[str, object]) -> DockerExecutor:
    """Build from the ``agent.executor`` section (``kind: docker``); ConfigError lists what is wrong."""
    return DockerExecutor(docker_config(config))
