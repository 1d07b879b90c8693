"""The engine's stream guard: tells, from an attempt's agent events, a refusal from a violation.

Pure. A forbidden tool call the agent does not check itself is a violation at
once (the engine stops the agent). One the agent checks itself before running
it (``data["guarded"]``: its own pre-tool hook enforces the same policy) is
only suspect: a ``refusal`` event for it before its ``tool_result`` means a
lower layer stopped it (recorded, the task goes on); a ``tool_result`` without
one means it ran, and that is the violation. Given the attempt's ``sandbox``, a
tool call naming a path it hides is a ``sandbox`` refusal (the call saw nothing).
"""

from __future__ import annotations

import attrs

from orchcore.ports.agent import AgentEvent
from orchcore.safety.events import SafetyEvent, SafetyLayer, parse_refusal, violation
from orchcore.safety.hidden_paths import hidden_path_refusal
from orchcore.safety.policy import SafetyPolicy
from orchcore.safety.shell import check_tool_use
from orchcore.sandbox import SandboxPolicy


@attrs.define
class StreamGuard:
    """Follows one attempt's events; ``feed`` returns refusals, ``violation`` is set once one got through."""

    policy: SafetyPolicy | None
    workdir: str
    violation: SafetyEvent | None = None
    suspects: dict[str, SafetyEvent] = attrs.field(factory=dict)
    refused: set[str] = attrs.field(factory=set)
    sandbox: SandboxPolicy | None = attrs.field(default=None, kw_only=True)

    def feed(self, event: AgentEvent) -> SafetyEvent | None:
        """The refusal ``event`` reports, or None; sets ``violation`` when a forbidden call got through."""
        if event.kind == "refusal":
            found = parse_refusal(event.data)
            tool_use_id = event.data.get("tool_use_id")
            if found is not None and isinstance(tool_use_id, str):
                self.refused.add(tool_use_id)
            return found
        hidden = self._hidden(event)
        if self.policy is None or self.violation is not None:
            return hidden
        if event.kind == "tool_use":
            self._tool_use(self.policy, event)
        elif event.kind == "tool_result":
            tool_use_id = str(event.data.get("tool_use_id", ""))
            suspect = self.suspects.pop(tool_use_id, None)
            if suspect is not None and tool_use_id not in self.refused:
                self.violation = attrs.evolve(suspect, reason=f"{suspect.reason}; it ran, nothing refused it")
        return hidden

    def _hidden(self, event: AgentEvent) -> SafetyEvent | None:
        tool_input = event.data.get("input")
        if self.sandbox is None or event.kind != "tool_use" or not isinstance(tool_input, dict):
            return None
        return hidden_path_refusal(self.sandbox, tool_input, self.workdir, event.text)

    def _tool_use(self, policy: SafetyPolicy, event: AgentEvent) -> None:
        tool_input = event.data.get("input")
        found = check_tool_use(
            policy,
            str(event.data.get("name", "")),
            tool_input if isinstance(tool_input, dict) else {},
            self.workdir,
        )
        if found is None:
            return
        caught = violation(SafetyLayer.STREAM_GUARD, event.text, str(found))
        tool_use_id = event.data.get("id")
        if event.data.get("guarded") is True and isinstance(tool_use_id, str):
            self.suspects[tool_use_id] = caught
        else:
            self.violation = caught
