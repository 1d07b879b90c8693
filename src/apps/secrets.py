"""Secrets the front ends need, read from the environment or a ``.env`` file.

Kept apart from :mod:`apps.settings` so that settings (which every command
loads, and which are shown in errors) never hold a secret. Like settings, this
module may read ``os.environ``; nothing else does.

    ORCH_WEBHOOK_SECRET      the shared secret of `orch serve`
    ORCH_TELEGRAM_BOT_TOKEN  the Telegram bot's token (from @BotFather)
    ORCH_TELEGRAM_CHAT_IDS   the chats the bot obeys and notifies, comma-separated
                             (not a secret, but read the same way, next to the token)
    ORCH_N8N_SECRET          sent as X-Orch-Secret with notifications to n8n (optional)
    OLLAMA_API_KEY           sent as a Bearer token to the judge's Ollama (optional: behind a proxy)

The environment wins over ``.env``; the ``.env`` file sits next to the config
file (or in the current folder when there is none). It holds ``NAME=value``
lines; ``#`` starts a comment, ``export`` and matching quotes are allowed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from apps.settings import Settings
from orchcore.errors import ConfigError

WEBHOOK_SECRET = "ORCH_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
TELEGRAM_TOKEN = "ORCH_TELEGRAM_BOT_TOKEN"  # noqa: S105 - the variable's name, not a secret
TELEGRAM_CHAT_IDS = "ORCH_TELEGRAM_CHAT_IDS"
N8N_SECRET = "ORCH_N8N_SECRET"  # noqa: S105 - the variable's name, not a secret
OLLAMA_API_KEY = "OLLAMA_API_KEY"  # Ollama's own variable, as its client reads it
DOTENV = ".env"


@attrs.frozen(repr=False)
class Secret:
    """A secret value whose repr and str are ``'***'``, so a log line or traceback cannot show it."""

    _value: str

    def reveal(self) -> str:
        """The value itself: call this only where the secret is used."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


def parse_dotenv(text: str) -> dict[str, str]:
    """``NAME=value`` pairs of a ``.env`` text; lines that are not assignments are ignored."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            # an unquoted value ends at a comment that follows whitespace
            for marker in (" #", "\t#"):
                value = value.split(marker, 1)[0]
            value = value.rstrip()
        values[name] = value
    return values


def dotenv_path(settings: Settings) -> Path:
    """Where the ``.env`` file of these settings is: next to the config file."""
    return Path(settings.base_dir) / DOTENV


def _value(settings: Settings, name: str, environ: Mapping[str, str] | None) -> str:
    """``$name``, else its value in ``.env``; "" if unset. ConfigError if ``.env`` is unreadable."""
    env = os.environ if environ is None else environ
    value = env.get(name, "")
    if not value:
        path = dotenv_path(settings)
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read: {exc}") from exc
            value = parse_dotenv(text).get(name, "")
    return value


def webhook_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The webhook secret from ``$ORCH_WEBHOOK_SECRET``, else from ``.env``; None if unset or empty.

    Raises ConfigError when the ``.env`` file exists but cannot be read.
    """
    value = _value(settings, WEBHOOK_SECRET, environ)
    return Secret(value) if value else None


def telegram_token(settings: Settings, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The bot token from ``$ORCH_TELEGRAM_BOT_TOKEN``, else from ``.env``; None if unset."""
    value = _value(settings, TELEGRAM_TOKEN, environ).strip()
    return Secret(value) if value else None


def telegram_chat_ids(settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[int, ...]:
    """The allowed chat ids from ``$ORCH_TELEGRAM_CHAT_IDS`` (else ``.env``): integers separated
    by commas or spaces (groups are negative). ConfigError names a malformed one."""
    ids: list[int] = []
    for word in _value(settings, TELEGRAM_CHAT_IDS, environ).replace(",", " ").split():
        try:
            ids.append(int(word))
        except ValueError:
            raise ConfigError(
                f"{TELEGRAM_CHAT_IDS}: {word!r} is not a chat id (expected integers such as 123456789 "
                "or -1001234567890, separated by commas)"
            ) from None
    return tuple(dict.fromkeys(ids))


def n8n_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The secret sent to n8n with notifications, from ``$ORCH_N8N_SECRET`` or ``.env``; None if unset."""
    value = _value(settings, N8N_SECRET, environ).strip()
    return Secret(value) if value else None


def ollama_api_key(settings: Settings, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The judge's Ollama API key from ``$OLLAMA_API_KEY`` or ``.env``; None if unset."""
    value = _value(settings, OLLAMA_API_KEY, environ).strip()
    return Secret(value) if value else None
