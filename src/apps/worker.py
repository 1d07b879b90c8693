"""The engine thread of the long-running front ends (`orch serve`, `orch telegram`).

Agents are started with PR_SET_PDEATHSIG, which fires when the *thread* that
started them exits; so every engine runs in one long-lived worker thread,
never in a short-lived one (nor in an ASGI thread pool).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING

from orchcore.errors import OrchError, SessionBusy
from orchcore.records import EventKind

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from orchcore.records import Event

log = logging.getLogger("apps.worker")

STOP_WAIT_S = 5.0


class SessionWorker:
    """Drives submitted sessions one at a time, in one thread that lives as long as the server.

    A session submitted while queued is queued once; one submitted while it is
    being driven is driven again afterwards (the engine may have stopped already).
    Errors are logged, never fatal: the thread goes on with the next session.
    """

    def __init__(self, runtime: Runtime, *, name: str = "orch-engine") -> None:
        self._runtime = runtime
        self._name = name
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._queued: set[str] = set()
        self._current: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Ask the thread to end after the session it drives; wait at most ``timeout``. An agent
        still running then is killed with the process (PDEATHSIG); `orch resume` re-runs its task."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("engine thread still driving session %s at shutdown", self._current)
        with self._lock:
            left = sorted(self._queued)
        if left:
            log.warning("sessions not driven before shutdown (continue with resume): %s", ", ".join(left))

    def submit(self, session_id: str) -> None:
        with self._lock:
            if session_id in self._queued:
                return
            self._queued.add(session_id)
        self._queue.put(session_id)

    def driving(self) -> str | None:
        return self._current

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def idle(self) -> bool:
        """Nothing queued and nothing being driven."""
        with self._lock:
            return not self._queued and self._current is None

    def _loop(self) -> None:
        while True:
            session_id = self._queue.get()
            if session_id is None:
                return
            with self._lock:
                self._queued.discard(session_id)
                self._current = session_id
            try:
                self._drive(session_id)
            except SessionBusy as exc:
                log.warning("not driving session %s: %s", session_id, exc)
            except OrchError as exc:
                log.error("session %s stopped: %s", session_id, exc)  # noqa: TRY400 - expected, no traceback
            except Exception:
                log.exception("engine failed on session %s", session_id)
            finally:
                with self._lock:
                    self._current = None

    def _drive(self, session_id: str) -> None:
        rt = self._runtime
        agent = rt.agents(rt.store.session(session_id).agent or rt.settings.agent.name)
        outcome = rt.engine(agent, _log_event).run(session_id)
        log.info("session %s stopped in state %s", session_id, outcome.session.state.value)


def _log_event(event: Event) -> None:
    if event.kind is not EventKind.AGENT:  # agent chatter stays in the task logs
        log.info("event %s task=%s %s", event.kind.value, event.task_id, event.data)
