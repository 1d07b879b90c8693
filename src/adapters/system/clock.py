"""Wall-clock time and random ids."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


class SystemClock:
    """Satisfies orchcore.ports.Clock with the system's UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """Satisfies orchcore.ports.Ids: 8 hex characters, easy to type in a command."""

    def new_id(self) -> str:
        return secrets.token_hex(4)
