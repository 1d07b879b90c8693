"""orchcore's records to JSON and back, for workflow inputs, activity results, queries.

One cattrs converter: money is Decimal text, times ISO-8601 UTC text, time zones
their IANA key, so a history replays to the same values on any machine.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import attrs
from cattrs.preconf.json import make_converter

from orchcore import records
from orchcore.budget import BudgetPolicy
from orchcore.notify import Routing
from orchcore.policy import ApprovalPolicy, RetryPolicy
from orchcore.ports import notifier
from orchcore.ports.notifier import Notification
from orchcore.records import Event, Mutation, OutboxEntry, Session, Snapshot, TaskRun
from orchcore.runtable import RunTable
from orchcore.tasks import Plan

T = TypeVar("T")


def _time_in(value: object, _: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 time, got {value!r}")
    return datetime.fromisoformat(value).astimezone(UTC)


def _time_out(value: datetime) -> str:
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: times are UTC-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _zone_out(value: tzinfo) -> str:
    return "UTC" if value is UTC else str(getattr(value, "key", None) or value.tzname(None) or "UTC")


def _zone_in(value: object, _: object) -> tzinfo:
    return UTC if value == "UTC" else ZoneInfo(str(value))


# the outbox entry names its notification for type checkers only: resolved here, so it (de)serialises
_names = {**vars(notifier), **vars(records)}  # JsonValue (in JsonObject) lives in records
attrs.resolve_types(Notification, _names)
attrs.resolve_types(OutboxEntry, _names)

converter = make_converter()  # sets as lists, enums as values: JSON as is
converter.register_unstructure_hook(Decimal, str)
converter.register_structure_hook(Decimal, lambda v, _: Decimal(str(v)))
converter.register_unstructure_hook(datetime, _time_out)
converter.register_structure_hook(datetime, _time_in)
converter.register_unstructure_hook_func(
    lambda cls: isinstance(cls, type) and issubclass(cls, tzinfo), _zone_out
)
converter.register_structure_hook(tzinfo, _zone_in)


attrs.resolve_types(Event, _names)
_JSON_OBJECT = attrs.fields(Event).data.type  # dict[str, JsonValue], as resolved


def _is_json_object(cls: object) -> bool:
    """An event's or notification's ``data``: JSON already, taken as it is (cattrs cannot walk
    the recursive JsonValue union)."""
    return bool(cls == _JSON_OBJECT)


converter.register_structure_hook_func(_is_json_object, lambda value, _: dict(value))


@attrs.frozen
class SessionConfig:
    """What a session workflow decides with: fixed when the session starts (replays see the same)."""

    approval: ApprovalPolicy = attrs.field(factory=ApprovalPolicy)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    budget: BudgetPolicy = attrs.field(factory=BudgetPolicy)
    routing: Routing = attrs.field(factory=Routing)
    attempt_timeout_s: float = 1800.0
    heartbeat_timeout_s: float = 30.0


@attrs.frozen
class SessionStart:
    """The workflow's input: the planned session and its config."""

    session: Session
    plan: Plan
    runs: tuple[TaskRun, ...]
    events: tuple[Event, ...]
    config: SessionConfig


def snapshot_out(snap: Snapshot) -> dict[str, Any]:
    return {
        "session": converter.unstructure(snap.session),
        "plan": converter.unstructure(snap.plan),
        "runs": [converter.unstructure(r) for r in snap.runs.values()],
    }


def snapshot_in(data: dict[str, Any]) -> Snapshot:
    return Snapshot(
        converter.structure(data["session"], Session),
        converter.structure(data["plan"], Plan),
        RunTable(converter.structure(r, TaskRun) for r in data["runs"]),
    )


def dump(value: object) -> Any:
    """Any record (attrs class, tuple of them) as JSON-ready data."""
    return converter.unstructure(value)


def load(data: Any, cls: type[T]) -> T:
    """``data`` read back as ``cls``."""
    return converter.structure(data, cls)


def mutation_out(m: Mutation) -> dict[str, Any]:
    return converter.unstructure(m)  # type: ignore[no-any-return]


def mutation_in(data: dict[str, Any]) -> Mutation:
    return converter.structure(data, Mutation)


__all__ = [
    "OutboxEntry",
    "SessionConfig",
    "SessionStart",
    "dump",
    "load",
    "mutation_in",
    "mutation_out",
    "snapshot_in",
    "snapshot_out",
]
