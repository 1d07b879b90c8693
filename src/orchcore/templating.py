"""Prompt templates: Jinja2 sources rendered in a sandbox, errors located to the template's file:line.

Pure: the sources arrive as text (the shipped ones, or a project's overrides read by apps);
rendering a string is no I/O. A project's templates are user input, so they run in
Jinja2's ``SandboxedEnvironment`` (no attribute tricks to reach Python internals), with
``StrictUndefined`` (a misspelt variable is an error, not an empty string) and no
autoescaping (the output is markdown for a model, not HTML).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import attrs
import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from orchcore.errors import ConfigError

TASK = "task.md.j2"
RETRY = "retry.md.j2"
ANSWER = "answer.md.j2"
JUDGE = "judge.md.j2"
JUDGE_SYSTEM = "judge_system.md.j2"
TEMPLATE_NAMES = (TASK, RETRY, ANSWER, JUDGE, JUDGE_SYSTEM)
"""Every template orch renders; a project template of the same name replaces the shipped one."""


@attrs.frozen
class TemplateSource:
    """A template's text and where it came from (the path errors name)."""

    name: str
    text: str
    origin: str


class _Sources(jinja2.BaseLoader):
    """Hands Jinja2 the sources it was given, named by their origin so tracebacks carry it."""

    def __init__(self, sources: Mapping[str, TemplateSource]) -> None:
        self._sources = sources

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        found = self._sources.get(template)
        if found is None:
            raise jinja2.TemplateNotFound(template)
        return found.text, found.origin, lambda: True


@attrs.define
class Templates:
    """The templates of a run, compiled once: every syntax error is reported at once, located."""

    sources: Mapping[str, TemplateSource]
    _env: SandboxedEnvironment = attrs.field(init=False, repr=False)
    _compiled: dict[str, jinja2.Template] = attrs.field(init=False, repr=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._env = SandboxedEnvironment(
            loader=_Sources(self.sources),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )
        problems = []
        for name, source in self.sources.items():
            try:
                self._compiled[name] = self._env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{source.origin}:{exc.lineno}: {exc.message}")
        if problems:
            raise ConfigError("\n".join(problems))

    def origin(self, name: str) -> str:
        """Where template ``name`` came from."""
        return self.sources[name].origin

    def render(self, name: str, variables: Mapping[str, Any]) -> str:
        """Template ``name`` with ``variables``; ConfigError ``file:line: what`` when it cannot render."""
        source = self.sources.get(name)
        if source is None:
            raise ConfigError(f"no template {name!r}; expected one of {', '.join(sorted(self.sources))}")
        try:
            return self._compiled[name].render(variables)
        except jinja2.TemplateError as exc:
            line = _template_line(exc.__traceback__, source.origin)
            raise ConfigError(f"{source.origin}:{line}: {_message(exc)}") from None


def _template_line(tb: TracebackType | None, origin: str) -> int:
    """The line of ``origin`` the error came from (Jinja2 maps template frames to their source)."""
    line = 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == origin:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _message(exc: jinja2.TemplateError) -> str:
    """What went wrong, in the template's words (an undefined name says which variables exist)."""
    if isinstance(exc, jinja2.UndefinedError):
        return f"{exc.message}; the variables are listed in docs/templates.md"
    if isinstance(exc, SecurityError):
        return f"not allowed in a template: {exc}"
    return str(exc.message or exc)
