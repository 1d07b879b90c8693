"""Reading and checking orch.yaml: every problem at once, each as FILE:LINE: key: what was
found and what is allowed, in the user's words (never a Python type name).

The checks follow the attrs tree in apps.settings, so a section added there is checked
here without more code; the rules below add what a type cannot say (ranges, names).
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from orchcore.errors import ConfigError
from orchcore.ports.notifier import NotificationKind

if TYPE_CHECKING:  # PyYAML is imported only when there is a file to read: `orch status` without one skips it
    import yaml

Key = tuple[str, ...]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# keys of the configs orch was seeded from, and the orch key that does the job
SEED_KEYS: dict[str, str] = {
    "orchestrator": "approval, paths, budget (see docs/configuration.md)",
    "orchestrator.approval_mode": "approval.mode",
    "orchestrator.auto_approve": "approval.auto_approve (task types)",
    "orchestrator.checkpoint_after": "approval.checkpoint_after",
    "orchestrator.tasks_dir": "paths.tasks_dir",
    "orchestrator.state_dir": "paths.state_dir",
    "orchestrator.workdir": "paths.workdir",
    "orchestrator.max_daily_cost_usd": "budget.max_daily_cost_usd",
    "orchestrator.log_level": "logging.level",
    "claude": "agent (with agent.name: claude)",
    "claude.flags": "agent.extra_args (with agent.name: claude)",
    "claude.timeout": "agent.timeout_s",
    "claude.model": "agent.model (with agent.name: claude)",
    "claude.max_turns": "agent.max_turns (with agent.name: claude)",
    "claude.executable": "agent.executable (with agent.name: claude)",
    "claude.path": "agent.executable (with agent.name: claude)",
    "server": "the options of `orch serve` (--host, --port)",
    "server.host": "`orch serve --host HOST`",
    "server.port": "`orch serve --port PORT`",
    "server.secret": "the ORCH_WEBHOOK_SECRET variable (environment or .env)",
    "telegram": "notifications.channels: [telegram] and ORCH_TELEGRAM_BOT_TOKEN, ORCH_TELEGRAM_CHAT_IDS",
    "telegram.bot_token": "the ORCH_TELEGRAM_BOT_TOKEN variable (environment or .env)",
    "telegram.chat_id": "the ORCH_TELEGRAM_CHAT_IDS variable (environment or .env)",
    "n8n": "notifications.n8n_url and notifications.channels: [n8n]",
    "n8n.webhook_url": "notifications.n8n_url",
    "budget.daily_limit": "budget.max_daily_cost_usd",
    "budget.max_daily_cost": "budget.max_daily_cost_usd",
    "budget.warn_at_percent": "budget.warn_at (a fraction: 0.75)",
    "logging.log_level": "logging.level",
}


@functools.cache
def _loader() -> type[yaml.SafeLoader]:
    """Safe YAML without implicit timestamps: `2026-13-45` stays text that checks can name,
    instead of a ValueError from inside PyYAML."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def read_config(path: Path, text: str) -> tuple[Any, dict[Key, int]]:
    """The document in ``text`` and the line of every key in it; yaml.YAMLError on bad syntax."""
    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[Key, int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def _lines(node: yaml.Node, at: Key, lines: dict[Key, int]) -> None:
    import yaml

    lines.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*at, str(key.value))
            lines[here] = key.start_mark.line + 1
            _lines(value, here, lines)


def describe(value: object) -> str:
    """A value as the user wrote it, in YAML words."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value) if isinstance(value, str) else str(value)


@attrs.define
class Checker:
    """Collects problems with their places: a file line, or the variable that set the key."""

    file: str
    lines: Mapping[Key, int]
    origins: Mapping[Key, str]  # keys set from the environment: ORCH_NAME
    known: Mapping[Key, Iterable[str]] = attrs.field(factory=dict)  # allowed names, e.g. channels
    found: list[tuple[int, str]] = attrs.field(factory=list)

    @property
    def problems(self) -> list[str]:
        """Every problem, in file order (those from the environment last)."""
        return [text for _, text in sorted(self.found, key=lambda item: item[0])]

    def add(self, key: Key, message: str) -> None:
        dotted = ".".join(k if k.isprintable() else repr(k) for k in key)
        if key in self.origins:
            self.found.append((1 << 30, f"{self.origins[key]}: {dotted}: {message}"))
            return
        line = next((self.lines[key[:n]] for n in range(len(key), -1, -1) if key[:n] in self.lines), 1)
        self.found.append((line, f"{self.file or 'settings'}:{line}: {dotted}: {message}"))

    def section(self, cls: type, value: object, at: Key, *, open_keys: bool = False) -> None:
        fields = {f.name: f for f in attrs.fields(attrs.resolve_types(cls))}
        names = [n for n in fields if n not in ("source", "base_dir", "options")]
        if not isinstance(value, dict):
            self.add(at, f"found {describe(value)}, expected a mapping with keys: {', '.join(names)}")
            return
        for key, item in value.items():
            here = (*at, str(key))
            field = fields.get(str(key))
            if field is None or str(key) in ("source", "base_dir", "options"):
                if not open_keys:
                    self.unknown(here, names, item)
                continue
            self.value(field.type, item, here)

    def unknown(self, key: Key, names: list[str], value: object = None) -> None:
        dotted = ".".join(key)  # only ever looked up, never shown
        if dotted in SEED_KEYS and isinstance(value, dict) and value:
            # a section of another config: answer each of its keys with the orch key to use
            for sub in value:
                inner = f"{dotted}.{sub}"
                self.add(
                    (*key, str(sub)), f"is not an orch key: use {SEED_KEYS.get(inner, SEED_KEYS[dotted])}"
                )
            return
        if dotted in SEED_KEYS:
            self.add(key, f"is not an orch key: use {SEED_KEYS[dotted]}")
            return
        where = ".".join(key[:-1])
        self.add(key, f"unknown key; {'keys of ' + where if where else 'sections'}: {', '.join(names)}")

    def value(self, tp: Any, value: object, at: Key) -> None:
        args = typing.get_args(tp)
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return
            tp = next(a for a in args if a is not type(None))
            args, origin = typing.get_args(tp), typing.get_origin(tp)
        if attrs.has(tp):
            self.section(tp, value, at, open_keys=any(f.name == "options" for f in attrs.fields(tp)))
        elif origin is dict:
            if not isinstance(value, dict):
                self.add(at, f"found {describe(value)}, expected a mapping")
            elif attrs.has(args[1]):
                for key, item in value.items():
                    self.section(args[1], item, (*at, str(key)))
        elif origin is tuple:
            what = "words" if at[-1] == "command" else "names"
            if isinstance(value, list):
                odd = [v for v in value if isinstance(v, dict | list | bool) or v is None]
                if odd:
                    quote = (
                        f" (quote it if it is one: '{describe(odd[0])}')" if isinstance(odd[0], bool) else ""
                    )
                    self.add(at, f"found {describe(odd[0])} in the list, expected {what}{quote}")
            elif not isinstance(value, str) and value is not None:
                self.add(at, f"found {describe(value)}, expected a list of {what}")
        elif isinstance(tp, type) and issubclass(tp, enum.Enum):
            allowed = [str(m.value) for m in tp]
            if str(value) not in allowed or isinstance(value, bool):
                self.add(at, f"found {describe(value)}, expected one of: {', '.join(allowed)}")
        elif tp is bool:
            if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
                self.add(at, f"found {describe(value)}, expected true or false")
        elif tp in (int, float, Decimal):
            self.number(tp, value, at)
        elif tp is str and (isinstance(value, dict | list | bool) or value is None):
            self.add(at, f"found {describe(value)}, expected text")

    def number(self, tp: type, value: object, at: Key) -> None:
        word = {int: "a whole number", float: "a number", Decimal: "an amount in USD"}[tp]
        if isinstance(value, bool | dict | list) or value is None:
            self.add(at, f"found {describe(value)}, expected {word}")
            return
        try:
            number = Decimal(str(value).strip().removeprefix("$") if tp is Decimal else str(value).strip())
        except InvalidOperation:
            self.add(at, f"found {describe(value)}, expected {word}")
            return
        if not number.is_finite() or (tp is int and number != number.to_integral_value()):
            self.add(at, f"found {describe(value)}, expected {word}")
            return
        rule = _rule_for(at)
        if rule is not None:
            wrong = rule(number)
            if wrong:
                self.add(at, f"found {describe(value)}, expected {wrong}")


def _at_least(low: Decimal, what: str) -> Callable[[Decimal], str | None]:
    return lambda n: None if n >= low else what


def _above_zero(what: str) -> Callable[[Decimal], str | None]:
    return lambda n: None if n > 0 else what


def _fraction(n: Decimal) -> str | None:
    if 0 < n <= 1:
        return None
    example = f"{n / 100} for {n}%" if 1 < n <= 100 else "0.75 for 75%"
    return f"a fraction above 0 and at most 1: {example}"


def _rule_for(at: Key) -> Callable[[Decimal], str | None] | None:
    name = at[-1]
    if at == ("budget", "warn_at"):
        return _fraction
    if name in ("max_daily_cost_usd", "max_task_cost_usd") or at[:2] == ("budget", "prices"):
        return _at_least(Decimal(0), "an amount of 0 or more")
    if name in ("max_attempts", "max_turns"):
        return _at_least(Decimal(1), "1 or more")
    if name.startswith(("idle", "tool_idle")) or name == "max_retries":
        return _at_least(Decimal(0), "0 or more (0 turns it off)" if "idle" in name else "0 or more")
    if name.endswith(("_s", "_h")):
        return _above_zero("a number of " + ("hours" if name.endswith("_h") else "seconds") + " above 0")
    return None


def check_names(checker: Checker, raw: Mapping[str, Any]) -> None:
    """Keys whose values are names from a fixed set: log levels, channels, events, time zones."""
    for key, allowed in checker.known.items():
        section = raw.get(key[0])
        if not isinstance(section, dict) or key[1] not in section:
            continue
        value = section[key[1]]
        given = value if isinstance(value, list) else str(value).split(",") if isinstance(value, str) else []
        names = list(allowed)
        folded = {n.lower(): n for n in names}
        for item in given:
            word = str(item).strip()
            if word and word.lower() not in folded and word not in names:
                checker.add(key, f"found {describe(word)}, expected one of: {', '.join(names)}")
    zone = raw.get("budget", {}).get("timezone") if isinstance(raw.get("budget"), dict) else None
    if isinstance(zone, str) and zone != "local":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            checker.add(
                ("budget", "timezone"), f"found {zone!r}, expected local, UTC or a zone such as Europe/Berlin"
            )


def known_names(raw: Mapping[str, Any]) -> dict[tuple[str, ...], list[str]]:
    """The allowed names of keys that take names: log levels, channels, notification events."""
    from apps.bootstrap import BUILTIN_CHANNELS, ENTRY_POINT_GROUP

    channels = list(BUILTIN_CHANNELS)
    wanted = (
        raw.get("notifications", {}).get("channels") if isinstance(raw.get("notifications"), dict) else None
    )
    if wanted and any(str(c).strip() not in channels for c in _strings_or_empty(wanted)):
        from importlib.metadata import entry_points

        channels += [
            ep.name.removeprefix("notifier.")
            for ep in entry_points(group=ENTRY_POINT_GROUP)
            if ep.name.startswith("notifier.")
        ]
    events = ["default", "all", *sorted(k.value for k in NotificationKind)]
    return {
        ("logging", "level"): list(LOG_LEVELS),
        ("notifications", "channels"): channels,
        ("notifications", "events"): events,
    }


def _strings_or_empty(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def read_config_file(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    import yaml

    try:
        data, lines = read_config(path, path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}:1: encoding: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if data is None:
        return {}, lines
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1: expected a mapping of sections (approval, paths, logging, agent, budget, notifications)"
        )
    return data, lines


def located(message: str, source: str, lines: Mapping[tuple[str, ...], int]) -> str:
    """A cattrs message ("invalid type (why) @ config.a.b") as FILE:LINE: a.b: why."""
    text, _, where = message.rpartition(" @ ")
    key = tuple(where.removeprefix("config").strip(".").replace("[", ".").replace("]", "").split("."))
    line = next((lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in lines), 1)
    why = text[text.find("(") + 1 : text.rfind(")")] if "(" in text else text
    return f"{source or 'settings'}:{line}: {'.'.join(key)}: {why}"
