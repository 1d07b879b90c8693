"""Notifications POSTed as JSON to an n8n webhook (or any HTTP endpoint)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from orchcore.errors import ConfigError, NotifyError
from orchcore.ports.notifier import Notification
from orchcore.redact import redact

IDEMPOTENCY_HEADER = "Idempotency-Key"
SECRET_HEADER = "X-Orch-Secret"  # noqa: S105 - a header name, not a secret
RETRYABLE_STATUS = frozenset({408, 425, 429})  # and every 5xx


def payload(notification: Notification) -> dict[str, object]:
    """The JSON body: a stable schema an n8n flow reads as ``$json.body.<field>``."""
    n = notification
    return {
        "key": n.key,
        "session": n.session_id,
        "kind": n.kind.value,
        "title": n.title,
        "text": n.text,
        "task": n.task_id,
        "actions": list(n.actions),
        "data": n.data,
        "created_at": n.created_at.isoformat(),
    }


class N8nNotifier:
    """Satisfies orchcore.ports.Notifier: POST ``url`` with ``Idempotency-Key: <key>``.

    2xx is delivered. 5xx, 408, 425, 429, timeouts and connection errors may pass
    (NotifyError retryable); any other answer is a rejection (not retryable). The
    client's own timeout bounds every send; errors name the host, never the URL's
    path (n8n webhook paths work as secrets) nor the secret.
    """

    def __init__(self, url: str, client: httpx.Client, secret: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"n8n: not an http(s) URL with a host: {redact(f'{parts.scheme}://{parts.netloc}')}/…"
            )
        self._url = url
        self._client = client
        self._secret = secret
        self._where = redact(f"n8n at {parts.scheme}://{parts.netloc}")

    def __repr__(self) -> str:
        return f"N8nNotifier({self._where!r}, secret={'***' if self._secret else None})"

    def send(self, notification: Notification) -> None:
        headers = {IDEMPOTENCY_HEADER: notification.key, "Content-Type": "application/json"}
        if self._secret:
            headers[SECRET_HEADER] = self._secret
        body = json.dumps(payload(notification), ensure_ascii=False, allow_nan=False).encode()
        with self._map_errors():
            response = self._client.post(self._url, content=body, headers=headers)
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"{self._where} answered HTTP {status} {response.reason_phrase}".rstrip()
        raise NotifyError(reason, retryable=status >= 500 or status in RETRYABLE_STATUS)

    @contextlib.contextmanager
    def _map_errors(self) -> Iterator[None]:
        """httpx failures become NotifyError: transport trouble may pass, the rest will not."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise NotifyError(f"{self._where}: timed out ({type(exc).__name__})", retryable=True) from exc
        except httpx.TransportError as exc:
            raise NotifyError(
                f"{self._where}: {type(exc).__name__}: {redact(str(exc))}", retryable=True
            ) from exc
        except httpx.HTTPError as exc:
            raise NotifyError(
                f"{self._where}: {type(exc).__name__}: {redact(str(exc))}", retryable=False
            ) from exc
