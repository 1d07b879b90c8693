"""Whether an Ollama host is worth importing the client for: a loopback port nothing listens on.

Importing the ``ollama`` client (pydantic, httpx, httpcore) costs about 300 ms, and every
``orch run`` ends with a day report that asks the model for a summary. With no Ollama on this
machine, the answer is a refused connection either way, so the summary asks the port first: one
``connect`` to 127.0.0.1 fails in well under a millisecond. Only a loopback address with no
proxy set is probed; anything else (another machine, a proxy that may reach it) goes to the
client as before. This module imports nothing of the client.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

START_OLLAMA = "start Ollama (`ollama serve`) or set supervisor.host (OLLAMA_HOST)"
DEFAULT_PORT = 11434  # ollama's own default when the host names no port and no scheme
_PROBE_TIMEOUT_S = 0.5


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL or host:port) names this machine's loopback interface."""
    try:
        name = urlsplit(host if "://" in host else f"http://{host}").hostname or ""
    except ValueError:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _address(host: str) -> tuple[str, int] | None:
    """Where the client would connect for ``host``, as ollama reads it (no scheme and no port:
    11434; a scheme and no port: 80 or 443); None if it cannot be read."""
    try:
        parts = urlsplit(host if "://" in host else f"http://{host}")
        port = parts.port
    except ValueError:
        return None
    if port is None:
        port = DEFAULT_PORT if "://" not in host else (443 if parts.scheme == "https" else 80)
    return parts.hostname or "127.0.0.1", port


def nothing_listens(host: str, proxies: Mapping[str, str]) -> bool:
    """True only when ``host`` is a loopback address, no proxy is set (``proxies``: the
    environment's proxy variables) and a connection to it is refused: no Ollama runs here.
    Any doubt (a timeout, another machine, a proxy) is False."""
    if not is_loopback(host) or any(proxies.values()):
        return False
    address = _address(host)
    if address is None:
        return False
    try:
        with socket.create_connection(address, timeout=_PROBE_TIMEOUT_S):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
