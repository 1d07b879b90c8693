"""The Notifier contract on the Telegram notifier, against the fake Bot API on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from adapters.telegram import TelegramNotifier
from orchcore.testing.contracts import NotifierContract, NotifierFactory, NotifierRig
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.integration

TOKEN = "123456:AAE-contract-token"  # noqa: S105 - the fake's token
CHAT = 111


class TestTelegramNotifier(NotifierContract):
    @pytest.fixture
    def make_notifier(self) -> Iterator[NotifierFactory]:
        fakes: list[FakeTelegram] = []
        clients: list[httpx.Client] = []

        def make(scenario: str) -> NotifierRig:
            fake = FakeTelegram(TOKEN)
            fakes.append(fake)
            client = httpx.Client(timeout=5.0)
            clients.append(client)
            token = TOKEN
            if scenario == "down":
                fake.close()  # the port refuses connections
            elif scenario == "rejecting":
                token = "42:revoked-token"  # noqa: S105 - Telegram answers 401 Unauthorized

            def shown() -> list[str]:
                # one showing per notification: later parts of a long one carry "key#2"...
                return [m.key for m in fake.sent_to(CHAT) if m.key is not None and "#" not in m.key]

            return NotifierRig(TelegramNotifier(token, [CHAT], client, fake.base_url), shown=shown)

        yield make
        for fake in fakes:
            fake.close()
        for client in clients:
            client.close()
