"""One command in one fresh container: created with the workspace bind-mounted, ``init`` as PID 1
and the configured limits; streamed line by line; stopped on timeout, silence or request; and
removed afterwards whatever happened (a crash of orch leaves it labelled, for ``reap_containers``)."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import docker
import docker.errors
import docker.types

from adapters.docker.config import DockerConfig
from adapters.docker.frames import AttachStream
from orchcore.sandbox import under

LABEL_PREFIX = "io.orchcore"
EXECUTOR_LABEL = f"{LABEL_PREFIX}.executor"
TAIL_LINES = 40
STOP_GRACE_S = 2  # SIGTERM, then SIGKILL: docker-init forwards the TERM to the agent
_DROPPED_ENV = ("PATH", "HOME")  # the host's: the image has its own PATH, HOME is configured

LineHandler = Callable[[str], str | None]
TickHandler = Callable[[], str | None]
StartHandler = Callable[[Any], None]


@attrs.frozen
class Mount:
    """A host path shown inside the container (read-only unless ``writable``), or, ``hidden``,
    covered where a mount would show it: an empty tmpfs over a folder, /dev/null over a file."""

    path: str
    writable: bool = False
    hidden: bool = False


@attrs.frozen
class ContainerCommand:
    """What to run: the command, where, with what, for how long."""

    argv: tuple[str, ...]
    workdir: str
    env: Mapping[str, str]
    stdin_text: str | None
    log_path: str
    timeout_s: float
    idle_timeout_s: float | None = None
    tick_s: float = 1.0
    mounts: tuple[Mount, ...] = ()
    labels: Mapping[str, str] = attrs.field(factory=dict)
    path: str | None = None  # the container's PATH (the guards' shims first); None: the image's


@attrs.frozen
class ContainerOutcome:
    """How the container's command ended (exit_code None when orch stopped it)."""

    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    idle_timed_out: bool = False
    stopped: str | None = None
    tail: tuple[str, ...] = ()
    stderr_tail: tuple[str, ...] = ()
    container_id: str = ""


def workspace_user(workdir: str) -> str:
    """``uid:gid`` of the workspace's owner: files the agent writes through the mount stay theirs."""
    info = Path(workdir).stat()
    return f"{info.st_uid}:{info.st_gid}"


def create_container(client: docker.DockerClient, config: DockerConfig, command: ContainerCommand) -> Any:
    """Create (not start) the container for ``command``, stdin open when it has any."""
    inside = config.workspace_path or command.workdir
    env = {k: v for k, v in command.env.items() if k not in _DROPPED_ENV}
    return client.containers.create(
        config.image,
        list(command.argv),
        detach=False,  # with stdin_open: StdinOnce, so closing our stdin closes the program's
        stdin_open=command.stdin_text is not None,
        init=True,  # PID 1 ignores SIGTERM without a handler; docker-init forwards it
        working_dir=inside,
        user=config.user or workspace_user(command.workdir),
        environment={**env, "HOME": config.home, **({"PATH": command.path} if command.path else {})},
        mounts=container_mounts(command, inside),
        network_mode=config.network,
        mem_limit=config.memory,
        nano_cpus=int(config.cpus * 1e9) if config.cpus else None,
        pids_limit=config.pids_limit,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        labels={EXECUTOR_LABEL: "docker", **command.labels},
    )


def container_mounts(command: ContainerCommand, inside: str) -> list[docker.types.Mount]:
    """The workspace read-write at ``inside``, the other paths as configured, and the hidden ones
    covered wherever they fall under a mount (the daemon mounts parents before children)."""

    def target(path: str) -> str:
        if under(path, command.workdir):
            return (
                inside + path.removeprefix(command.workdir.rstrip("/")) if path != command.workdir else inside
            )
        return path

    shown = [command.workdir] + [m.path for m in command.mounts if not m.hidden and Path(m.path).exists()]
    mounts = [docker.types.Mount(target=inside, source=command.workdir, type="bind", read_only=False)]
    for m in command.mounts:
        if m.path == command.workdir or not Path(m.path).exists():
            continue
        if not m.hidden:
            mounts.append(
                docker.types.Mount(
                    target=target(m.path), source=m.path, type="bind", read_only=not m.writable
                )
            )
        elif any(under(m.path, outer) and m.path != outer for outer in shown):
            if Path(m.path).is_dir():
                mounts.append(docker.types.Mount(target=target(m.path), source=None, type="tmpfs"))
            else:
                mounts.append(
                    docker.types.Mount(target=target(m.path), source="/dev/null", type="bind", read_only=True)
                )
    return mounts


def _stop(container: Any) -> None:
    with contextlib.suppress(docker.errors.APIError):
        container.stop(timeout=STOP_GRACE_S)


def remove_quietly(container: Any) -> None:
    """Remove the container, killing it first if it runs; nothing if it is already gone."""
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)


def run_container(
    client: docker.DockerClient,
    config: DockerConfig,
    command: ContainerCommand,
    *,
    on_line: LineHandler,
    on_tick: TickHandler,
    on_start: Callable[[Any], None] | None = None,
) -> ContainerOutcome:
    """Run ``command`` in a new container to its end; every stdout line goes to ``on_line`` and
    ``on_tick`` is called at least every ``tick_s``; either returning a reason stops it. The
    container is removed before this returns, also when a handler raises."""
    started = time.monotonic()  # again once it runs: the timeout is the command's, not the daemon's
    container = create_container(client, config, command)
    stream: AttachStream | None = None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    err_tail: deque[str] = deque(maxlen=TAIL_LINES)
    timed_out = idle = False
    stopped: str | None = None
    try:
        params = {"stdin": int(command.stdin_text is not None), "stdout": 1, "stderr": 1, "stream": 1}
        stream = AttachStream.wrap(client.api.attach_socket(container.id, params=params))
        container.start()
        started = time.monotonic()
        if on_start is not None:
            on_start(container)
        if command.stdin_text is not None:
            stream.send_stdin(command.stdin_text.encode("utf-8"))
        log = Path(command.log_path)
        log.parent.mkdir(parents=True, exist_ok=True)
        last_output = last_tick = time.monotonic()
        with log.open("a", encoding="utf-8") as out:
            while stream.open:
                now = time.monotonic()
                if now - started >= command.timeout_s:
                    timed_out = True
                    break
                if command.idle_timeout_s is not None and now - last_output >= command.idle_timeout_s:
                    idle = True
                    break
                wait = max(0.0, min(command.tick_s - (now - last_tick), command.timeout_s - (now - started)))
                for tag, line in stream.poll(wait):
                    last_output = time.monotonic()
                    if tag == "out":
                        out.write(line + "\n")
                        tail.append(line)
                        if stopped is None:
                            stopped = on_line(line)
                    else:
                        out.write(f"[stderr] {line}\n")
                        err_tail.append(line)
                out.flush()
                if stopped is None and time.monotonic() - last_tick >= command.tick_s:
                    last_tick = time.monotonic()
                    stopped = on_tick()
                if stopped is not None:
                    break
            killed = timed_out or idle or stopped is not None
            if killed:
                _stop(container)
                reason = stopped or ("timed out" if timed_out else "silent too long")
                out.write(f"[orch] container stopped: {reason}\n")
        exit_code = None if killed else _exit_code(container)
    finally:
        if stream is not None:
            stream.close()
        remove_quietly(container)
    return ContainerOutcome(
        exit_code=exit_code,
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
        idle_timed_out=idle,
        stopped=stopped,
        tail=tuple(tail),
        stderr_tail=tuple(err_tail),
        container_id=container.id,
    )


def _exit_code(container: Any) -> int:
    """The exit status of a container whose output ended (it has exited, or is about to)."""
    status = container.wait(timeout=30)
    return int(status.get("StatusCode", -1))


def reap_containers(client: docker.DockerClient, labels: Mapping[str, str]) -> list[str]:
    """Remove every orch container carrying ``labels`` (what a crashed run left); their names."""
    wanted = [f"{EXECUTOR_LABEL}=docker", *(f"{k}={v}" for k, v in labels.items())]
    found = client.containers.list(all=True, filters={"label": wanted})
    for container in found:
        remove_quietly(container)
    return [c.name for c in found]


def host_pid(container: Any, marker_entry: str) -> int:
    """The container's init as a pid of this machine, if it is one: its environment holds
    ``marker_entry`` (0 when the daemon runs elsewhere, where the pid means nothing here)."""
    container.reload()
    pid = int(container.attrs.get("State", {}).get("Pid") or 0)
    if pid <= 0:
        return 0
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return 0
    return pid if marker_entry.encode() in environ.split(b"\0") else 0


def image_has_program(client: docker.DockerClient, config: DockerConfig, program: str) -> bool | None:
    """Whether ``program`` (a name on the image's PATH, or an absolute path) is in the image,
    asked of its ``sh`` in a throwaway container; None when that cannot be told (no shell, or a
    path relative to the workspace)."""
    if "/" in program and not program.startswith("/"):
        return None
    container = client.containers.create(
        config.image,
        ["sh", "-c", 'command -v "$1" >/dev/null', "sh", program],
        network_mode="none",
        cap_drop=["ALL"],
        labels={EXECUTOR_LABEL: "docker"},
    )
    try:
        container.start()
        status = int(container.wait(timeout=30).get("StatusCode", -1))
    except docker.errors.APIError:
        return None  # no sh in the image: a missing program shows when the container starts
    finally:
        remove_quietly(container)
    return True if status == 0 else False if status in (1, 127) else None
