"""The Docker executor's configuration (``agent.executor`` with ``kind: docker``), checked whole:
every wrong field is named at once, with what was expected."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import attrs

from orchcore.errors import ConfigError

FIELD = "agent.executor"
DEFAULT_HOST = "unix:///var/run/docker.sock"
API_VERSION = "1.41"  # Docker 20.10's; later daemons still serve it, and no round trip asks
_MEMORY = re.compile(r"^[1-9][0-9]*[bkmg]?$", re.IGNORECASE)
_USER = re.compile(r"^[0-9]+(:[0-9]+)?$")
CONTAINER_HOME = "/tmp"  # noqa: S108 - inside the container: the one place a busybox image can write
_KNOWN = frozenset(
    {"kind", "image", "host", "network", "memory", "cpus", "pids_limit", "user", "home", "workspace_path"}
)


@attrs.frozen
class DockerConfig:
    """Where the daemon is, which image runs the agent, and the container's limits.

    ``network`` is ``none`` unless configured (``host`` to reach an API on the host's
    loopback, or a network's name); ``user`` (``uid:gid``) defaults to the workspace's
    owner, so what the agent writes through the bind mount belongs to the user;
    ``workspace_path`` is where the workspace appears inside (default: its own path).
    """

    image: str
    host: str = DEFAULT_HOST
    network: str = "none"
    memory: str | None = None
    cpus: float | None = None
    pids_limit: int = 512
    user: str | None = None
    home: str = CONTAINER_HOME
    workspace_path: str | None = None


def docker_config(section: Mapping[str, object]) -> DockerConfig:
    """Parse the ``agent.executor`` section; ConfigError lists every wrong field at once."""
    problems: list[str] = [
        f"{FIELD}.{key}: unknown field (known: {', '.join(sorted(_KNOWN))})"
        for key in section
        if key not in _KNOWN
    ]
    image = section.get("image")
    if not isinstance(image, str) or not image.strip():
        problems.append(f"{FIELD}.image: expected the name of a local image (e.g. my-agent:1), got {image!r}")
    host = section.get("host", DEFAULT_HOST)
    if not isinstance(host, str) or not host.startswith(("unix://", "tcp://", "ssh://")):
        problems.append(f"{FIELD}.host: expected unix://PATH, tcp://HOST:PORT or ssh://HOST, got {host!r}")
    network = section.get("network", "none")
    if not isinstance(network, str) or not network:
        problems.append(f"{FIELD}.network: expected none, host, bridge or a network's name, got {network!r}")
    memory = section.get("memory")
    if memory is not None and not (isinstance(memory, str) and _MEMORY.match(memory)):
        problems.append(f"{FIELD}.memory: expected a size such as 512m or 2g, got {memory!r}")
    cpus = section.get("cpus")
    if cpus is not None and (
        isinstance(cpus, bool) or not isinstance(cpus, int | float) or not 0 < cpus < math.inf
    ):
        problems.append(f"{FIELD}.cpus: expected a positive number of CPUs such as 1.5, got {cpus!r}")
    pids = section.get("pids_limit", 512)
    if isinstance(pids, bool) or not isinstance(pids, int) or pids <= 0:
        problems.append(f"{FIELD}.pids_limit: expected a positive whole number, got {pids!r}")
    user = section.get("user")
    if user is not None and not (isinstance(user, str) and _USER.match(user)):
        problems.append(f"{FIELD}.user: expected uid or uid:gid in numbers (e.g. 1000:1000), got {user!r}")
    for key in ("home", "workspace_path"):
        value = section.get(key)
        if value is not None and not (isinstance(value, str) and value.startswith("/")):
            problems.append(f"{FIELD}.{key}: expected an absolute path inside the container, got {value!r}")
    if problems:
        raise ConfigError("; ".join(problems))
    return DockerConfig(
        image=str(image).strip(),
        host=str(host),
        network=str(network),
        memory=str(memory) if memory is not None else None,
        cpus=float(cpus) if isinstance(cpus, int | float) else None,
        pids_limit=int(pids) if isinstance(pids, int) else 512,
        user=str(user) if user is not None else None,
        home=str(section.get("home") or CONTAINER_HOME),
        workspace_path=str(section["workspace_path"]) if section.get("workspace_path") else None,
    )
