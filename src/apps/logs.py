"""Logging set-up for the apps: a file under the state directory, never stdout."""

from __future__ import annotations

import logging

from apps.settings import Settings


def configure_logging(settings: Settings, *, read_only: bool = False) -> None:
    """Send orchcore/adapters/apps logs to the configured file at the configured level
    (``read_only`` commands create no folder for it: with none, they log nowhere)."""
    level = logging.getLevelName(settings.logging.level.upper())
    if not isinstance(level, int):
        level = logging.WARNING
    target = (
        settings.path(settings.logging.file) if settings.logging.file else settings.state_dir / "orch.log"
    )
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
            logger.addHandler(handler)
