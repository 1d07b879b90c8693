"""The Docker executor: each attempt's command runs in a fresh container of the configured image,
the workspace bind-mounted, and the container is gone when the attempt is over.

What the container gets: the workspace (read-write, at its own path unless configured),
the sandbox policy's other writable paths and its readable ones (read-only), no network
unless configured, no capabilities, no new privileges, the configured memory/CPU/pids
limits, and the agent's environment less the host's PATH and HOME.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import docker
import docker.errors
import requests.exceptions

from adapters.docker.config import API_VERSION, FIELD, DockerConfig, docker_config
from adapters.docker.container import (
    LABEL_PREFIX,
    ContainerCommand,
    Mount,
    host_pid,
    image_has_program,
    reap_containers,
    run_container,
)
from orchcore.errors import AgentUnavailable
from orchcore.ports.executor import SH_SHIMS_ENV, ExecResult, ExecSpec, LineHandler, StartHandler, TickHandler
from orchcore.sandbox import AttemptProcess, SandboxPolicy

RUN_MARKER = "ORCHCORE_AGENT_RUN"
"""The same name as adapters.process's marker: the local reaper finds a container's processes by it
after a crash (when the daemon is on this machine); the labels find the container itself."""
SESSION_LABEL = f"{LABEL_PREFIX}.session"
TASK_LABEL = f"{LABEL_PREFIX}.task"
ATTEMPT_LABEL = f"{LABEL_PREFIX}.attempt"
_CLIENT_TIMEOUT_S = 60
_DEFAULT_PATH = (
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Docker's, for an image without one
)


def _start_ticks(pid: int) -> int:
    """When ``pid`` started, in clock ticks since boot (what identifies it with its pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[19]) if len(fields) > 19 else 0


class DockerExecutor:
    """Runs an agent's command in a container on a Docker daemon (local or remote).

    It holds no connection between calls: each opens its own and closes it, so an idle
    executor keeps nothing open and a restarted daemon is simply reached again.
    """

    def __init__(self, config: DockerConfig) -> None:
        self._config = config
        self._workspaces: dict[str, str] = {}  # the path inside -> the workspace on this machine

    @property
    def config(self) -> DockerConfig:
        """The settings this executor was built with."""
        return self._config

    @contextlib.contextmanager
    def _daemon(self) -> Iterator[docker.DockerClient]:
        """A connection to the daemon that answers and has the image; AgentUnavailable names the field."""
        host = self._config.host
        _probe_unix_socket(host)
        client = docker.DockerClient(base_url=host, version=API_VERSION, timeout=_CLIENT_TIMEOUT_S)
        try:
            try:
                client.ping()
                client.images.get(self._config.image)
            except docker.errors.ImageNotFound as exc:
                raise AgentUnavailable(
                    f"the image {self._config.image!r} is not on the Docker daemon at {host} "
                    f"({FIELD}.image): build or load it there first (orch pulls nothing)"
                ) from exc
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise AgentUnavailable(
                    f"cannot reach the Docker daemon at {host} ({FIELD}.host): {_why(exc)}; "
                    "is dockerd running, and may this user open its socket?"
                ) from exc
            yield client
        finally:
            client.close()

    def check(self, program: str, env: Mapping[str, str]) -> None:
        """Raise AgentUnavailable, naming the config field, unless the daemon answers, has the
        image, and the image has ``program`` (looked up by its shell, when it has one)."""
        with self._daemon() as client:
            found = image_has_program(client, self._config, program)
        if found is False:
            raise AgentUnavailable(
                f"agent command not found in the image {self._config.image!r}: {program!r} "
                f"(check agent.command, or {FIELD}.image)"
            )

    def reap(self, labels: Mapping[str, str]) -> list[str]:
        """Remove what an earlier run left with these labels (e.g. ``{SESSION_LABEL: id}``)."""
        with self._daemon() as client:
            return reap_containers(client, labels)

    def prepare(self, workdir: str) -> str:
        """The workspace is bind-mounted, not copied: the path it has inside the container."""
        inside = self._config.workspace_path or workdir
        self._workspaces[inside] = workdir
        return inside

    def finish(self, workdir: str, prepared: str) -> None:
        """Nothing to bring back: the container wrote into ``workdir`` through the mount."""
        self._workspaces.pop(prepared, None)

    def run(
        self,
        spec: ExecSpec,
        on_line: LineHandler,
        on_tick: TickHandler,
        on_start: StartHandler | None = None,
    ) -> ExecResult:
        """Run ``spec`` in a new container, removed before this returns; its files are written
        beside the log and mounted read-only at the same path."""
        env = dict(spec.env)
        marker = env.setdefault(RUN_MARKER, uuid.uuid4().hex)
        mounts = list(_mounts(spec.sandbox))
        for file in spec.files:
            path = Path(spec.log_path).with_suffix(f".{file.name}").resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(file.text, encoding="utf-8")
            env[file.env_var] = str(path)
            mounts.append(Mount(str(path)))
        labels = _labels(env)
        shims = _sh_shims(env)
        if shims is not None:  # the guards: shims, git hooks (GIT_CONFIG_* name them), refusals
            mounts.append(Mount(str(shims.parent)))
            mounts.append(Mount(str(shims.parent / "refusals"), writable=True))
        command = ContainerCommand(
            argv=spec.argv,
            workdir=self._workspaces.get(spec.cwd, spec.cwd),
            env=env,
            stdin_text=spec.stdin_text,
            log_path=spec.log_path,
            timeout_s=spec.timeout_s,
            idle_timeout_s=spec.idle_timeout_s,
            tick_s=spec.tick_s,
            mounts=tuple(mounts),
            labels=labels,
        )

        def started(container: Any) -> None:
            pid = host_pid(container, f"{RUN_MARKER}={marker}")
            if on_start is not None and pid:
                on_start(AttemptProcess(group=pid, leader_start=_start_ticks(pid), marker=marker))

        with self._daemon() as client:
            if shims is not None:  # first on the image's own PATH: a forbidden git is refused there
                command = attrs.evolve(command, path=f"{shims}:{_image_path(client, self._config.image)}")
            if SESSION_LABEL in labels and TASK_LABEL in labels:  # what a crashed run left of this task
                reap_containers(
                    client, {SESSION_LABEL: labels[SESSION_LABEL], TASK_LABEL: labels[TASK_LABEL]}
                )
            return self._run_in(client, command, spec.argv[0], on_line, on_tick, started)

    def _run_in(
        self,
        client: docker.DockerClient,
        command: ContainerCommand,
        program: str,
        on_line: LineHandler,
        on_tick: TickHandler,
        started: Callable[[Any], None],
    ) -> ExecResult:
        try:
            outcome = run_container(
                client, self._config, command, on_line=on_line, on_tick=on_tick, on_start=started
            )
        except docker.errors.ImageNotFound as exc:
            raise AgentUnavailable(f"the image {self._config.image!r} is gone ({FIELD}.image)") from exc
        except docker.errors.APIError as exc:
            why = _why(exc)
            if "executable file not found" in why or "no such file or directory" in why:
                raise AgentUnavailable(
                    f"cannot run {program!r} in the image {self._config.image!r} "
                    f"(agent.command, {FIELD}.image): {why}"
                ) from exc
            raise AgentUnavailable(f"the Docker daemon refused the container: {why}") from exc
        except requests.exceptions.RequestException as exc:
            return ExecResult(
                exit_code=None,
                duration_s=0.0,
                lost=f"lost the Docker daemon at {self._config.host} ({FIELD}.host): {_why(exc)}",
            )
        return ExecResult(
            exit_code=outcome.exit_code,
            duration_s=outcome.duration_s,
            timed_out=outcome.timed_out,
            idle_timed_out=outcome.idle_timed_out,
            stopped=outcome.stopped,
            tail=outcome.tail,
            stderr_tail=outcome.stderr_tail,
        )


def _labels(env: Mapping[str, str]) -> dict[str, str]:
    """The container's labels: which session, task and attempt it runs (to reap it after a crash)."""
    names = {"ORCH_SESSION_ID": SESSION_LABEL, "ORCH_TASK_ID": TASK_LABEL, "ORCH_ATTEMPT": ATTEMPT_LABEL}
    return {label: env[name] for name, label in names.items() if env.get(name)}


def _sh_shims(env: Mapping[str, str]) -> Path | None:
    """The guards' plain-sh shim folder the agent's environment names, if it is there."""
    folder = env.get(SH_SHIMS_ENV)
    return Path(folder) if folder and Path(folder).is_dir() else None


def _image_path(client: docker.DockerClient, image: str) -> str:
    """The PATH the image sets (Docker's default when it sets none)."""
    for entry in client.images.get(image).attrs.get("Config", {}).get("Env") or ():
        if isinstance(entry, str) and entry.startswith("PATH="):
            return entry.removeprefix("PATH=")
    return _DEFAULT_PATH


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
    """The sandbox policy's paths as mounts: writable ones read-write, readable ones read-only,
    hidden ones covered where a mount would show them (``.env`` in the workspace)."""
    if sandbox is None:
        return ()
    return (
        *(Mount(path, hidden=True) for path in sandbox.hidden),
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
