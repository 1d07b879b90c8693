"""The Telegram front end (`orch telegram`): a bot that takes commands from whitelisted
chats and answers with the session's progress. Needs no extra: httpx only."""
