"""Telegram Bot API: a small typed client, and a Notifier that sends to chats."""

from adapters.telegram.client import API_URL, BotUser, TelegramClient, TelegramError, Update, escape_markdown
from adapters.telegram.notifier import TelegramNotifier

__all__ = [
    "API_URL",
    "BotUser",
    "TelegramClient",
    "TelegramError",
    "TelegramNotifier",
    "Update",
    "escape_markdown",
]
