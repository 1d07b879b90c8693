"""Secrets the front ends need, read from the environment or a ``.env`` file.

Kept apart from :mod:`apps.settings` so that settings (which every command
loads, and which are shown in errors) never hold a secret. Like settings, this
module may read ``os.environ``; nothing else does.

    ORCH_WEBHOOK_SECRET   the shared secret of `orch serve`

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


def webhook_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The webhook secret from ``$ORCH_WEBHOOK_SECRET``, else from ``.env``; None if unset or empty.

    Raises ConfigError when the ``.env`` file exists but cannot be read.
    """
    env = os.environ if environ is None else environ
    value = env.get(WEBHOOK_SECRET, "")
    if not value:
        path = dotenv_path(settings)
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read: {exc}") from exc
            value = parse_dotenv(text).get(WEBHOOK_SECRET, "")
    return Secret(value) if value else None
