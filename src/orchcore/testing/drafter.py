"""A scripted Drafter for tests of what uses drafts (``orch plan``'s use case)."""

from __future__ import annotations

import attrs

from orchcore.ports.drafter import Draft, DrafterUnavailable, DraftRequest

EXHAUSTED = DrafterUnavailable("scripted drafter: script exhausted")


@attrs.define
class ScriptedDrafter:
    """Satisfies orchcore.ports.Drafter: answers each request with the next step of ``script``
    (a text becomes a Draft); ``then`` once the script is used up. ``requests`` is every request."""

    script: list[str | Draft | DrafterUnavailable] = attrs.field(factory=list)
    then: str | Draft | DrafterUnavailable = EXHAUSTED
    model: str = "scripted"
    requests: list[DraftRequest] = attrs.field(factory=list)

    def draft(self, request: DraftRequest) -> Draft | DrafterUnavailable:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else self.then
        return Draft(step, self.model) if isinstance(step, str) else step
