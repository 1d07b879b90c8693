"""Logging set-up for the apps: a file under the state directory, never stdout."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from orchcore.redact import redact

if TYPE_CHECKING:
    from apps.settings import Settings


class RedactingFilter(logging.Filter):
    """Redacts every record a handler writes (URL credentials, secret parameters, bot tokens)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure_logging(settings: Settings, *, read_only: bool = False) -> None:
    """Send orchcore/adapters/apps logs to the configured file at the configured level
    (``read_only`` commands create no folder for it: with none, they log nowhere)."""
    from apps.settings_lookup import log_file_of

    configured = settings.path(settings.logging.file) if settings.logging.file else None
    log_to(log_file_of(configured, settings.state_dir), settings.logging.level, read_only=read_only)


def log_to(target: Path, level_name: str, *, read_only: bool = False) -> None:
    """Send orchcore/adapters/apps logs to ``target`` at ``level_name`` (see configure_logging)."""
    level = logging.getLevelName(level_name.upper())
    if not isinstance(level, int):
        level = logging.WARNING
    if read_only and not target.parent.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    handler: logging.Handler | None = None
    for name in ("orchcore", "adapters", "apps"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
            if handler is None:  # opened only when needed: a second call leaves no file open
                handler = logging.FileHandler(target, encoding="utf-8")
                handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
                handler.addFilter(RedactingFilter())
            logger.addHandler(handler)
