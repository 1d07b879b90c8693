"""The engine's stream guard: tells, from an attempt's agent events, a refusal from a violation.

Pure and agent-neutral: it reads ``ToolCall.action``/``command``/``paths``, never a
vendor's tool names. A forbidden tool call the agent does not check itself is a
violation at once (the engine stops the agent). One the agent checks itself before
running it (``ToolCall.guarded``: its own pre-tool hook enforces the same policy) is
only suspect: a ``Refused`` for it before its ``ToolOutput`` means a lower layer
stopped it (recorded, the task goes on); a ``ToolOutput`` without one means it ran,
and that is the violation. Given the attempt's ``sandbox``, a tool call naming a path
it hides is a ``sandbox`` refusal (the call saw nothing), and a write outside the
workspace is only suspect too: the OS sandbox, which makes everything but its writable
paths read-only, answers it (EROFS, a ``Refused``) before its result does.
"""

from __future__ import annotations

import attrs

from orchcore.ports.agent_events import Refused, ToolCall, ToolOutput, TypedAgentEvent
from orchcore.safety.events import SafetyEvent, SafetyLayer, parse_refusal, violation
from orchcore.safety.hidden_paths import hidden_path_refusal
from orchcore.safety.policy import WRITE_OUTSIDE, SafetyPolicy
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

    def feed(self, event: TypedAgentEvent) -> SafetyEvent | None:
        """The refusal ``event`` reports, or None; sets ``violation`` when a forbidden call got through."""
        match event:
            case Refused(call_id=call_id):
                found = parse_refusal(event.record().data)  # a layer that cannot refuse reports nothing
                if found is not None and call_id is not None:
                    self.refused.add(call_id)
                return found
            case ToolCall():
                hidden = self._hidden(event)
                if self.policy is not None and self.violation is None:
                    self._tool_call(self.policy, event)
                return hidden
            case ToolOutput(call_id=call_id) if self.policy is not None and self.violation is None:
                suspect = self.suspects.pop(call_id, None)
                if suspect is not None and call_id not in self.refused:
                    self.violation = attrs.evolve(
                        suspect, reason=f"{suspect.reason}; it ran, nothing refused it"
                    )
                return None
            case _:
                return None

    def _hidden(self, call: ToolCall) -> SafetyEvent | None:
        if self.sandbox is None:
            return None
        return hidden_path_refusal(self.sandbox, call.paths, call.command, self.workdir, call.summary)

    def _tool_call(self, policy: SafetyPolicy, call: ToolCall) -> None:
        found = check_tool_use(policy, call, self.workdir)
        if found is None:
            return
        caught = violation(SafetyLayer.STREAM_GUARD, call.summary, str(found))
        if call.guarded or (self.sandbox is not None and found.rule == WRITE_OUTSIDE):
            self.suspects[call.call_id] = caught
        else:
            self.violation = caught
