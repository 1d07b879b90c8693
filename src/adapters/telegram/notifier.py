"""Notifications to Telegram chats through the Bot API (sendMessage)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence

import httpx

from adapters.telegram.client import API_URL, TelegramClient, TelegramError
from orchcore.errors import NotifyError
from orchcore.ports.notifier import Notification

log = logging.getLogger("adapters.telegram")

REMEMBERED = 4096  # (key, chat) pairs kept to skip chats already served when a send is retried


def render(notification: Notification) -> tuple[str, str]:
    """The title and plain text of ``notification``: its text, then the actions as the
    commands a human can send back ("/approve 3")."""
    lines = [notification.text.strip()] if notification.text.strip() else []
    if notification.actions:
        if lines:
            lines.append("")
        lines.append("Next: " + "   ".join(f"/{a.strip().lstrip('/')}" for a in notification.actions))
    return notification.title, "\n".join(lines)


class TelegramNotifier:
    """Satisfies orchcore.ports.Notifier: one message (title in bold) per chat in ``chat_ids``.

    Telegram has no idempotency key, so the notifier remembers which chats already
    got a key: when a send fails for one chat and is retried, the others are not
    sent it twice (within this process; a restart may repeat one message).
    """

    def __init__(
        self, token: str, chat_ids: Sequence[int], client: httpx.Client, base_url: str = API_URL
    ) -> None:
        self._api = TelegramClient(token, client, base_url)
        self._chat_ids = tuple(dict.fromkeys(chat_ids))
        self._delivered: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TelegramNotifier(chats={list(self._chat_ids)!r}, api={self._api!r})"

    def send(self, notification: Notification) -> None:
        """Send to every chat not served yet; NotifyError if any chat failed (retryable if
        any failure may pass)."""
        if not self._chat_ids:
            raise NotifyError("Telegram: no chat ids to notify", retryable=False)
        title, text = render(notification)
        failures: list[TelegramError] = []
        for chat_id in self._chat_ids:
            key = (notification.key, chat_id)
            with self._lock:
                if key in self._delivered:
                    continue
            try:
                self._api.send_message(chat_id, text, title=title, key=notification.key)
            except TelegramError as exc:
                log.warning("notification %s to chat %s failed: %s", notification.key, chat_id, exc)
                failures.append(exc)
                continue
            with self._lock:
                self._delivered[key] = None
                while len(self._delivered) > REMEMBERED:
                    self._delivered.popitem(last=False)
        if failures:
            retryable = any(f.retryable for f in failures)
            served = len(self._chat_ids) - len(failures)
            detail = "; ".join(str(f) for f in failures)
            waits = [f.retry_after for f in failures if f.retry_after is not None]
            raise TelegramError(
                f"Telegram: {len(failures)} of {len(self._chat_ids)} chats failed ({served} served): {detail}",
                retryable=retryable,
                status=failures[0].status,
                retry_after=max(waits) if waits else None,
            )
