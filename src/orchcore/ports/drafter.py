"""The Drafter port: a language model that writes text on request (``orch plan`` drafts a task file).

One call, one answer: the port neither parses nor validates what it gets (orchcore does, in
:mod:`orchcore.daily_plan`). An adapter never raises from :meth:`Drafter.draft`: a server that is
down, a model that is not pulled or an empty answer is a :class:`DrafterUnavailable` whose ``hint``
says what the user can do about it.
"""

from __future__ import annotations

from typing import Protocol

import attrs


@attrs.frozen
class DraftRequest:
    """What to write: the instructions (``system``) and the material (``prompt``); ``max_tokens``
    bounds the answer."""

    system: str
    prompt: str
    max_tokens: int = 4096


@attrs.frozen
class Draft:
    """What the model wrote, and which model wrote it."""

    text: str
    model: str = ""


@attrs.frozen
class DrafterUnavailable:
    """Why no draft came back, and what the user can do about it (``ollama pull MODEL``, a setting)."""

    reason: str
    hint: str = ""


class Drafter(Protocol):
    """Writes a draft for a request; never raises."""

    def draft(self, request: DraftRequest) -> Draft | DrafterUnavailable:
        """The model's answer to ``request``, or why there is none."""
        ...
