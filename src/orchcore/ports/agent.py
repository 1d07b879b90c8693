"""The Agent port: what one attempt at a task gets, what it reports while it runs, how it ended.

The events an agent reports are the typed values of ``agent_events`` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import attrs

from orchcore.ports.agent_events import (
    TYPED_AGENT_EVENTS,
    AgentRecord,
    Asked,
    Finished,
    Other,
    OutputLine,
    ProcessStarted,
    RateLimited,
    Refused,
    Retrying,
    Said,
    Tick,
    ToolAction,
    ToolCall,
    ToolOutput,
    TypedAgentEvent,
    UsageReport,
    from_unix,
)
from orchcore.records import Outcome
from orchcore.safety import SafetyPolicy
from orchcore.sandbox import SandboxPolicy


@attrs.frozen
class AgentRequest:
    """Everything an agent needs for one attempt at one task."""

    session_id: str
    task_id: str
    attempt: int
    prompt: str
    workdir: str
    log_path: str
    timeout_s: float
    resume_agent_session: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict)
    safety: SafetyPolicy | None = None
    sandbox: SandboxPolicy | None = None
    """The OS boundary a local agent must run in (None: not sandboxed); the agent adds its own
    config dir to what is writable. An agent that cannot honour it must refuse to run."""


AgentEvent = TypedAgentEvent
"""Something the agent did while it ran: one of the typed events of ``orchcore.ports.agent_events``."""

EventSink = Callable[[AgentEvent], str | None]
"""Receives each agent event; returns a reason to stop the agent, or None to go on."""


@attrs.frozen
class AgentResult:
    """How an attempt ended, with what it cost when the agent reports it."""

    outcome: Outcome
    exit_code: int | None = None
    reason: str = ""
    output_tail: str = ""
    cost_usd: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    agent_session_id: str | None = None
    retryable: bool = False
    """The failure is transient (rate limit, overload, a 5xx, the network): another
    attempt may succeed, after a pause."""
    retry_at: datetime | None = None
    """When the provider said it will accept work again (a usage-limit reset)."""
    final_text: str = ""
    """The agent's last message to the human, if it has one (a question is read from it)."""
    turns: int | None = None
    """How many turns the agent took, when it says (``Finished.turns``)."""


class Agent(Protocol):
    """Runs one attempt of a task to its end.

    ``check`` raises AgentUnavailable when the agent cannot start (missing
    executable, bad settings) so the engine fails before anything begins.
    ``run`` returns when the agent has ended, been stopped (the sink returned a
    reason: outcome STOPPED) or timed out (its whole process group is killed:
    outcome TIMED_OUT). It raises nothing for a failing agent: failure is an
    outcome. Every event is passed to ``on_event`` as it happens.
    """

    def check(self) -> None:
        """Raise AgentUnavailable if a run could not start."""
        ...

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        """Run the attempt to its end and say how it ended."""
        ...


__all__ = [
    "TYPED_AGENT_EVENTS",
    "Agent",
    "AgentEvent",
    "AgentRecord",
    "AgentRequest",
    "AgentResult",
    "Asked",
    "EventSink",
    "Finished",
    "Other",
    "OutputLine",
    "ProcessStarted",
    "RateLimited",
    "Refused",
    "Retrying",
    "Said",
    "Tick",
    "ToolAction",
    "ToolCall",
    "ToolOutput",
    "TypedAgentEvent",
    "UsageReport",
    "from_unix",
]
