"""Wall-clock time and random ids."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SystemClock:
    """Satisfies orchcore.ports.Clock with the system's UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class RandomIds:
    """Satisfies orchcore.ports.Ids: 8 hex characters, easy to type in a command."""

    def new_id(self) -> str:
        import secrets  # here: read-only commands make no ids (it imports random, hmac, base64)

        return secrets.token_hex(4)
