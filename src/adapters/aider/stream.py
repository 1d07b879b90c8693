"""Aider's plain-text output read into typed agent events, as far as the text honestly allows.

Aider has no machine-readable mode. What it prints and what this reads:
``Applied edit to X`` (an edit it wrote: a ToolCall EDIT with the path, and its ToolOutput),
``Tokens: 1.9k sent, 25 received. Cost: $0.01 message, $0.02 session.`` (a UsageReport per model
message; token counts are rounded by Aider, so they are approximate), ``litellm.<Kind>Error: ...``
(an API failure; transient kinds are retryable), ``Retrying in 0.5 seconds...`` (Aider's own
retry), ``Unable to create X, skipping edits.`` and ``Unable to write file X: [Errno 30]
Read-only file system ...`` (an edit whose write failed: inside orch's OS sandbox, a ``sandbox``
refusal of that edit, since Aider says nothing else of it). Every other line after the start-up banner is the model's reply, whose prose becomes
``Said`` and, at the end, ``Finished``. Shell commands are not run (``--no-suggest-shell-commands``),
so there is no shell tool stream to read. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal, InvalidOperation

import attrs

from orchcore.ports.agent import AgentResult, TypedAgentEvent
from orchcore.ports.agent_events import (
    Finished,
    Other,
    OutputLine,
    Refused,
    Retrying,
    Said,
    ToolAction,
    ToolCall,
    ToolOutput,
    UsageReport,
)
from orchcore.records import Outcome
from orchcore.safety.events import SafetyLayer

Pricer = Callable[[int, int], Decimal | None]
"""What ``input_tokens, output_tokens`` cost, or None when unknown."""

_APPLIED = re.compile(r"^Applied edit to (?P<path>.+?)\s*$")
_TOKENS = re.compile(
    r"^Tokens: (?P<sent>[\d.]+[kKmM]?) sent(?:, (?P<cw>[\d.]+[kKmM]?) cache write)?"
    r"(?:, (?P<cr>[\d.]+[kKmM]?) cache hit)?, (?P<received>[\d.]+[kKmM]?) received\."
    r"(?: Cost: \$(?P<cost>[\d.]+) message, \$(?P<session>[\d.]+) session\.)?"
)
_API_ERROR = re.compile(r"^litellm\.(?P<kind>\w+):\s*(?P<message>.*)$")
_UNABLE = re.compile(
    r"^Unable to (?:create (?P<new>.+?), skipping edits\.|write file (?P<file>.+?)(?: after \d+ attempts)?: (?P<error>.*))\s*$"
)
_RETRYING = re.compile(r"^Retrying in (?P<delay>[\d.]+) seconds")
_BANNER_END = re.compile(r"^(Repo-map: |Added .+ to the chat\.|Aider v\d)")
_NOISE = re.compile(
    r"^(Analytics have been|Update git (name|email) with|HTTPSConnectionPool\(|Creating empty file |"
    r"Model: |Git repo: |Warning|You can skip this check|The API provider|Added .+ to the chat\.)"
)
TRANSIENT_KINDS = frozenset(
    {
        "InternalServerError",
        "RateLimitError",
        "APIConnectionError",
        "ServiceUnavailableError",
        "Timeout",
        "APIError",
        "BadGatewayError",
    }
)
_TAIL_CHARS = 4000


def parse_count(text: str) -> int:
    """Aider's rounded count (``"1.9k"``, ``"25"``, ``"1.2M"``) as an int; 0 when unreadable."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    digits = text[:-1] if scale != 1 else text
    try:
        return int(Decimal(digits) * scale)
    except (InvalidOperation, ValueError):
        return 0


@attrs.define
class AiderOutput:
    """Reads Aider's stdout line by line into typed events; ``outcome`` says how the run ended."""

    model: str = ""
    pricer: Pricer | None = None
    in_reply: bool = False
    reply: list[str] = attrs.field(factory=list)
    said: list[str] = attrs.field(factory=list)
    edited: list[str] = attrs.field(factory=list)
    messages: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = None
    last_error: str = ""
    error_kind: str = ""
    sandboxed: bool = False
    """Whether Aider runs in orch's OS sandbox: then an edit it could not write was refused by it."""
    refused: list[str] = attrs.field(factory=list)

    def feed(self, line: str) -> Iterator[TypedAgentEvent]:
        """The events one output line means (never raises, whatever the line)."""
        text = line.rstrip("\r\n")
        if not self.in_reply:
            if _BANNER_END.match(text) and text.startswith("Repo-map: "):
                self.in_reply = True
            yield OutputLine(text)
            return
        if (match := _APPLIED.match(text)) is not None:
            path = match["path"]
            self.edited.append(path)
            call_id = f"aider-edit-{len(self.edited)}"
            yield ToolCall(
                call_id, "edit", ToolAction.EDIT, f"edit {path}", paths=(path,), input={"path": path}
            )
            yield ToolOutput(call_id, f"Applied edit to {path}")
        elif self.sandboxed and (match := _UNABLE.match(text)) is not None:
            yield from self._refused(match["new"] or match["file"], match["error"], text)
        elif (match := _TOKENS.match(text)) is not None:
            yield from self._message_end(match)
        elif (match := _API_ERROR.match(text)) is not None:
            self.error_kind, self.last_error = match["kind"], text[:500]
            yield Other("api_error", text=text, data={"error": match["kind"]})
        elif (match := _RETRYING.match(text)) is not None:
            delay_ms = float(Decimal(match["delay"]) * 1000)
            yield Retrying(delay_ms=delay_ms, error=self.last_error)
        else:
            self._keep(text)
            yield OutputLine(text)

    def _refused(self, path: str, error: str | None, text: str) -> Iterator[TypedAgentEvent]:
        """An edit the sandbox did not let Aider write: the edit (checked by a lower layer), the
        sandbox's refusal of it, and Aider's failure as its output."""
        self.refused.append(path)
        call_id = f"aider-refused-{len(self.refused)}"
        why = error or "the file could not be created"
        yield ToolCall(
            call_id,
            "edit",
            ToolAction.EDIT,
            f"edit {path}",
            paths=(path,),
            input={"path": path},
            guarded=True,
        )
        yield Refused(
            SafetyLayer.SANDBOX, f"edit {path}", f"the OS sandbox refused the write: {why}", call_id
        )
        yield ToolOutput(call_id, text, is_error=True)

    def _keep(self, text: str) -> None:
        if not _NOISE.match(text):
            self.reply.append(text)

    def _message_end(self, match: re.Match[str]) -> Iterator[TypedAgentEvent]:
        """The ``Tokens:`` line closes a model message: its words, then its usage."""
        self.messages += 1
        sent, received = parse_count(match["sent"]), parse_count(match["received"])
        self.input_tokens += sent
        self.output_tokens += received
        cost = self.pricer(sent, received) if self.pricer is not None else None
        if cost is None and match["cost"] is not None:
            cost = Decimal(match["cost"])
        if cost is not None:
            self.cost_usd = (self.cost_usd or Decimal(0)) + cost
        prose = prose_of(self.reply)
        self.reply = []
        if prose:
            self.said.append(prose)
            yield Said(prose, message_id=f"aider-message-{self.messages}", model=self.model)
        yield UsageReport(
            message_id=f"aider-message-{self.messages}",
            model=self.model,
            input_tokens=sent,
            output_tokens=received,
            cost_usd=cost,
        )

    def finished(self) -> Finished:
        """The final result: the last message's prose, an error when the API failed."""
        text = self.said[-1] if self.said else prose_of(self.reply)
        failed = bool(self.last_error) and self.messages == 0
        return Finished(
            self.last_error if failed else text,
            is_error=failed,
            cost_usd=self.cost_usd,
            turns=self.messages,
            details={"edited": list(self.edited), "refused": list(self.refused)},
        )

    def outcome(self, exit_code: int | None, stderr_tail: Sequence[str] = ()) -> AgentResult:
        """How the run ended: Aider exits 0 even when the API failed, so its output decides.

        A model message and exit 0 is SUCCEEDED; an API error with no message is FAILED
        (retryable when transient); nothing at all is ERROR.
        """
        done = self.finished()
        stderr_text = "\n".join(stderr_tail)[-_TAIL_CHARS:]
        result = AgentResult(
            Outcome.FAILED,
            exit_code=exit_code,
            cost_usd=self.cost_usd,
            input_tokens=self.input_tokens if self.messages else None,
            output_tokens=self.output_tokens if self.messages else None,
        )
        if self.messages and exit_code in (0, None):
            return attrs.evolve(
                result, outcome=Outcome.SUCCEEDED, output_tail=done.text[-_TAIL_CHARS:], final_text=done.text
            )
        if self.last_error:
            return attrs.evolve(
                result,
                reason=self.last_error,
                output_tail=f"{self.last_error}\n{stderr_text}".strip()[-_TAIL_CHARS:],
                retryable=self.error_kind in TRANSIENT_KINDS,
            )
        last = next((ln.strip() for ln in reversed(stderr_tail) if ln.strip()), "")
        reason = f"aider ended without a model reply (exit code {exit_code})" + (f": {last}" if last else "")
        return attrs.evolve(result, outcome=Outcome.ERROR, reason=reason[:500], output_tail=stderr_text)


_FENCE = re.compile(r"^(```|~~~)")


def prose_of(lines: Sequence[str]) -> str:
    """The reply without its fenced blocks (edits, commands) or the file name line before each."""
    kept: list[str] = []
    fenced = False
    for line in lines:
        if _FENCE.match(line.strip()):
            if not fenced and kept and kept[-1].strip() and " " not in kept[-1].strip():
                kept.pop()  # the file name an edit block names
            fenced = not fenced
            continue
        if not fenced:
            kept.append(line)
    return "\n".join(kept).strip()
