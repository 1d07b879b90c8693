"""uvicorn's h11 protocol with a deadline for a request's headers, and TCP_NODELAY on.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the
time a client may take to send its headers, and every byte it sends resets the
keep-alive timer: a client trickling a header a minute holds its connection
forever. Here the headers of each request must be complete ``header_timeout_s``
after the connection opens (or after the previous response); else it is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from apps.web.incidents import IncidentLog

HEADER_TIMEOUT_S = 10.0

log = logging.getLogger("apps.web")
incidents = IncidentLog(log)


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Send each write at once (TCP_NODELAY) on a TCP connection, whoever made its socket.

    uvicorn writes a reply's head and body separately; with Nagle on, the body waits for the
    client to ACK the head, which a keep-alive client delays by 40 ms. asyncio only sets the
    option itself on sockets made with proto IPPROTO_TCP; `orch serve`'s are, a passed-in one may not be.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # the client may be gone already: nothing to speed up
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def bounded_h11(header_timeout_s: float = HEADER_TIMEOUT_S) -> type[H11Protocol]:
    """The h11 protocol class whose requests' headers must arrive within ``header_timeout_s``."""

    class BoundedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _cycle_seen: Any = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            no_delay(transport)
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not self._cycle_seen:
                self._cycle_seen = self.cycle  # a request's headers are in: the app bounds its body
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                who = "%s:%d" % self.client if self.client else "a client"  # noqa: UP031 - uvicorn's shape
                incidents.report(
                    "slow_headers",
                    f"closed a connection from {who}: no complete headers in {header_timeout_s:g} s",
                )
                self.transport.close()

    return BoundedH11Protocol
