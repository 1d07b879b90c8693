"""uvicorn's HTTP protocols (httptools when installed, else h11) with a deadline and a size
limit for a request's headers, and TCP_NODELAY on.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the
time a client may take to send its headers, and every byte it sends resets the
keep-alive timer: a client trickling a header a minute holds its connection
forever. Here the headers of each request must be complete ``header_timeout_s``
after the connection opens (or after the previous response); else it is closed.
h11 bounds a request's head itself (``h11_max_incomplete_event_size``); httptools does not,
so here a head still incomplete after ``max_head_bytes`` is answered 400 and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import TYPE_CHECKING, Any, TypeVar

from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from apps.web.incidents import IncidentLog

HEADER_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 16 * 1024  # as h11's default limit on a request's head (request line + headers)

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


Protocol = TypeVar("Protocol", "H11Protocol", "HttpToolsProtocol")


def bounded(
    base: type[Protocol], header_timeout_s: float = HEADER_TIMEOUT_S, max_head_bytes: int | None = None
) -> type[Protocol]:
    """``base`` (uvicorn's h11 or httptools protocol) whose requests' headers must arrive within
    ``header_timeout_s`` and, if ``max_head_bytes`` is given, within that many bytes."""

    class Bounded(base):  # type: ignore[valid-type,misc]
        _header_timer: asyncio.TimerHandle | None = None
        _cycle_seen: Any = None
        _head_bytes: int | None = 0  # None while a request's headers are in

        def connection_made(self, transport: asyncio.Transport) -> None:
            no_delay(transport)
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            # the rest of a body the app already answered (a 413) is that request's, not the next
            # one's headers: bytes count as head bytes only once the last request was read whole
            reading_body = self.cycle is not None and getattr(self.cycle, "more_body", False)
            if self._head_bytes is not None and not reading_body:
                self._head_bytes += len(data)
            super().data_received(data)
            if self.cycle is not self._cycle_seen:
                self._cycle_seen = self.cycle  # a request's headers are in: the app bounds its body
                self._disarm()
                self._head_bytes = None
            elif (
                max_head_bytes is not None
                and self._head_bytes is not None
                and self._head_bytes > max_head_bytes
                and not reading_body
                and not self.transport.is_closing()
            ):
                self._head_bytes = None
                self.send_400_response(f"Request headers larger than {max_head_bytes} bytes")

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._head_bytes = 0
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

    Bounded.__name__ = Bounded.__qualname__ = f"Bounded{base.__name__}"
    return Bounded


def bounded_h11(header_timeout_s: float = HEADER_TIMEOUT_S) -> type[H11Protocol]:
    """The h11 protocol class whose requests' headers must arrive within ``header_timeout_s``."""
    return bounded(H11Protocol, header_timeout_s)


def bounded_protocol(header_timeout_s: float = HEADER_TIMEOUT_S) -> type[H11Protocol | HttpToolsProtocol]:
    """httptools' protocol when it is installed (its C parser: ~30 % less server CPU per request
    than h11 under 50 keep-alive clients, bench/bench_webhook.py), else h11's; both bounded alike."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return bounded_h11(header_timeout_s)
    return bounded(HttpToolsProtocol, header_timeout_s, MAX_HEAD_BYTES)
