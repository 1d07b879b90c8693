"""What an agent does while it runs, as typed values: the vocabulary every Agent adapter maps into.

How an adapter maps its stream (Claude's stream-json, Codex's ``--json``, Gemini's
``stream-json``, Aider's output) into these: parse each line in the adapter, then emit
- ``ProcessStarted`` once, as soon as the attempt's process group exists (the engine commits it
  before anything else, so a crash leaves something to reap); ``Tick()`` at least once a second
  while the agent is silent (the engine looks at stored state: pause, cancel); ``OutputLine`` for
  a raw line that is not an event (it is in the log, the engine shows it and does not store it);
- ``Said`` for the agent's words, ``ToolCall`` for every tool it calls, with the agent-neutral
  ``action`` (``ToolAction``) and, for SHELL, the ``command`` line, for WRITE/EDIT the ``paths``:
  that is what the safety policy checks, whatever the agent calls the tool; ``ToolOutput`` for
  its result (same ``call_id``);
- ``UsageReport`` per model message, cumulative (the latest per ``message_id`` wins), priced BY
  THE ADAPTER (``cost_usd``, Decimal; None if it cannot price it); ``Finished`` for the final
  result; ``Asked`` for a question to the human; ``RateLimited``, ``Retrying`` (the agent's own
  API retry), ``Refused`` (a tool call the agent's own controls refused); ``Other`` for anything
  else worth keeping (thinking, init, an unknown event: stored for the record, never read).
Each event says how the event log stores it (``record()``: kind, text, data, stored), so every
agent's rows look alike. Pure values: no I/O, no clock.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal

import attrs

from orchcore.records import AttemptProcess, JsonObject, JsonValue
from orchcore.safety.events import SafetyLayer


class ToolAction(enum.StrEnum):
    """What a tool call does, whatever the agent calls the tool: what the safety policy checks."""

    SHELL = "shell"  # runs ``command`` in a shell (Claude Bash, Codex command_execution, Gemini run_shell_command)
    WRITE = "write"  # creates or replaces the files in ``paths``
    EDIT = "edit"  # changes the files in ``paths``
    READ = "read"  # reads the files in ``paths``
    SEARCH = "search"  # lists or searches files (glob, grep)
    FETCH = "fetch"  # reads from the network (web fetch, web search)
    OTHER = "other"  # anything else (todo lists, sub-agents, MCP tools): not checked


@attrs.frozen
class AgentRecord:
    """An agent event as the event log keeps it: an ``EventKind.AGENT`` row with data
    ``{"kind": kind, "text": text, **data}``; ``stored`` False: shown, not stored (in the log already)."""

    kind: str
    text: str = ""
    data: JsonObject = attrs.field(factory=dict)
    stored: bool = True


def _present(**values: JsonValue) -> JsonObject:
    """The keys whose value is not None (the row names only what the agent said)."""
    return {key: value for key, value in values.items() if value is not None}


def _money(amount: Decimal | None) -> str | None:
    """Money in a row as its exact decimal text, never a float."""
    return None if amount is None else str(amount)


@attrs.frozen
class ProcessStarted:
    """What identifies the attempt's processes: its process group, the leader's start time, a marker
    in their environment (the engine records it before anything else, to reap after a crash)."""

    group: int
    leader_start: int
    marker: str
    host: str = ""  # where it runs: empty on this machine (see AttemptProcess)

    @classmethod
    def of(cls, process: AttemptProcess) -> ProcessStarted:
        """The event that reports ``process``."""
        return cls(process.group, process.leader_start, process.marker, process.host)

    @property
    def process(self) -> AttemptProcess:
        """The process as the attempt records it."""
        return AttemptProcess(
            group=self.group, leader_start=self.leader_start, marker=self.marker, host=self.host
        )

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        data: JsonObject = {"group": self.group, "leader_start": self.leader_start, "marker": self.marker}
        if self.host:
            data["host"] = self.host
        return AgentRecord("process", data=data, stored=False)


@attrs.frozen
class Tick:
    """A silent heartbeat, at least once a second while the agent says nothing: the engine looks at
    the stored state (pause, cancel) and may answer with a reason to stop."""

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        return AgentRecord("tick", stored=False)


@attrs.frozen
class OutputLine:
    """A raw line of the agent's output that is no event (already in the task log: shown, not stored)."""

    text: str

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        return AgentRecord("output", text=self.text, stored=False)


@attrs.frozen
class Said:
    """The agent's words to the human (a text block); the last one before ``Finished`` is its final message."""

    text: str
    message_id: str | None = None
    model: str | None = None
    parent_call_id: str | None = None  # said inside a sub-agent's tool call
    error: str | None = None  # the agent marks the message as an error (e.g. "rate_limit")

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        data = _present(
            message_id=self.message_id,
            model=self.model,
            parent_tool_use_id=self.parent_call_id,
            error=self.error,
        )
        return AgentRecord("text", text=self.text, data=data)


@attrs.frozen
class ToolCall:
    """A tool call. ``action``, ``command`` and ``paths`` are agent-neutral: what the safety policy
    checks; ``tool`` and ``input`` are the agent's own name and arguments, kept for the record.
    ``guarded``: the agent's own pre-tool hook checks this call against the same policy before it
    runs (a refusal may follow: only a result without one is a violation)."""

    call_id: str
    tool: str
    action: ToolAction
    summary: str  # one line for people: "Bash git status"
    command: str | None = None  # SHELL: the command line as the shell gets it
    paths: tuple[str, ...] = ()  # WRITE/EDIT/READ: the files, as the agent named them
    input: JsonObject = attrs.field(factory=dict)
    guarded: bool = False
    parent_call_id: str | None = None

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        data: JsonObject = {
            "id": self.call_id,
            "name": self.tool,
            "action": self.action.value,
            "input": self.input,
        }
        if self.guarded:
            data["guarded"] = True
        if self.parent_call_id is not None:
            data["parent_tool_use_id"] = self.parent_call_id
        return AgentRecord("tool_use", text=self.summary, data=data)


@attrs.frozen
class ToolOutput:
    """A tool call's result (``call_id`` of its ``ToolCall``); ``truncated``: ``text`` is cut, the log has all."""

    call_id: str
    text: str
    is_error: bool = False
    truncated: bool = False
    parent_call_id: str | None = None

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        data: JsonObject = {"tool_use_id": self.call_id, "is_error": self.is_error}
        if self.truncated:
            data["truncated"] = True
        if self.parent_call_id is not None:
            data["parent_tool_use_id"] = self.parent_call_id
        return AgentRecord("tool_result", text=self.text, data=data)


@attrs.frozen
class UsageReport:
    """Tokens one model message used so far, and what they cost (priced by the adapter, which knows
    its vendor's prices; None if it cannot). Cumulative: a message is reported again as it grows,
    the latest report per ``message_id`` counts, once."""

    message_id: str
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal | None = None

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        data: JsonObject = {
            "message_id": self.message_id,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cost_usd": _money(self.cost_usd),
        }
        return AgentRecord("usage", data=data, stored=False)


@attrs.frozen
class Finished:
    """The agent's final result: its last message, whether it says it failed, what the whole run cost
    (the agent's own figure), how many turns it took, its session id (to resume) and duration.
    ``details``: the agent's own fields of that result, stored beside these for the record."""

    text: str
    is_error: bool = False
    cost_usd: Decimal | None = None
    turns: int | None = None
    agent_session_id: str | None = None
    duration_ms: int | None = None
    details: JsonObject = attrs.field(factory=dict)

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        data: JsonObject = dict(self.details)
        data.update(
            _present(
                is_error=self.is_error,
                total_cost_usd=_money(self.cost_usd),
                num_turns=self.turns,
                duration_ms=self.duration_ms,
                session_id=self.agent_session_id,
            )
        )
        return AgentRecord("result", text=self.text, data=data)


@attrs.frozen
class Asked:
    """A question the agent puts to the human and waits for (a tool or event made for asking)."""

    text: str

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        return AgentRecord("question", text=self.text)


@attrs.frozen
class RateLimited:
    """The provider's rate-limit state: ``status`` (e.g. allowed, allowed_warning, rejected), when
    the window resets and which window it is (e.g. five_hour)."""

    status: str | None = None
    resets_at: datetime | None = None
    window: str | None = None

    @property
    def rejected(self) -> bool:
        """The provider refuses work until ``resets_at``."""
        return self.status == "rejected"

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        resets: JsonValue = None
        if self.resets_at is not None:
            seconds = self.resets_at.timestamp()
            resets = int(seconds) if seconds.is_integer() else seconds
        data: JsonObject = {"status": self.status, "resets_at": resets, "window": self.window}
        return AgentRecord("rate_limit", text=self.status or "", data=data)


def from_unix(seconds: float) -> datetime:
    """A unix time as an aware UTC datetime (for ``RateLimited.resets_at``)."""
    return datetime.fromtimestamp(seconds, UTC)


@attrs.frozen
class Retrying:
    """The agent retries an API call itself: which try of how many, after what delay, why."""

    attempt: int | None = None
    max_retries: int | None = None
    delay_ms: float | None = None
    status: int | None = None  # the HTTP status that failed, if one did
    error: str = ""

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        delay = f"{self.delay_ms:.0f} ms" if self.delay_ms is not None else "?"
        text = (
            f"API retry {_or_mark(self.attempt)}/{_or_mark(self.max_retries)} in {delay} "
            f"({self.status or '-'} {self.error or '?'})"
        )
        data: JsonObject = {
            "attempt": self.attempt,
            "max_retries": self.max_retries,
            "retry_delay_ms": self.delay_ms,
            "error_status": self.status,
            "error": self.error,
        }
        return AgentRecord("api_retry", text=text, data=data)


def _or_mark(value: int | None) -> str:
    return "?" if value is None else str(value)


@attrs.frozen
class Refused:
    """A tool call (``call_id``, if known) the agent's own controls refused: which layer, the command
    it named, why. The engine records it as a safety event (a refusal, not a violation)."""

    layer: SafetyLayer
    command: str
    reason: str
    call_id: str | None = None

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        data: JsonObject = {"layer": self.layer.value, "command": self.command, "reason": self.reason}
        if self.call_id is not None:
            data["tool_use_id"] = self.call_id
        return AgentRecord("refusal", text=f"{self.layer.value} refused {self.command}".strip(), data=data)


@attrs.frozen
class Other:
    """Anything else the agent reported that is worth keeping (thinking, its init line, an event
    type the adapter does not know): stored as kind ``name`` for the record, never decided on."""

    name: str
    text: str = ""
    data: JsonObject = attrs.field(factory=dict)
    stored: bool = True

    def record(self) -> AgentRecord:
        """How the event log keeps this event."""
        return AgentRecord(self.name, text=self.text, data=dict(self.data), stored=self.stored)


TypedAgentEvent = (
    ProcessStarted
    | Tick
    | OutputLine
    | Said
    | ToolCall
    | ToolOutput
    | UsageReport
    | Finished
    | Asked
    | RateLimited
    | Retrying
    | Refused
    | Other
)
"""Every event an agent may report (``isinstance`` or ``match`` on it)."""

TYPED_AGENT_EVENTS: tuple[type, ...] = (
    ProcessStarted,
    Tick,
    OutputLine,
    Said,
    ToolCall,
    ToolOutput,
    UsageReport,
    Finished,
    Asked,
    RateLimited,
    Retrying,
    Refused,
    Other,
)
"""The classes of ``TypedAgentEvent``, for ``isinstance`` checks (a contract asserts each event is one)."""
