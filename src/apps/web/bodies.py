"""Request bodies checked against their endpoint's published schema, with each validator
compiled once instead of on every request.

Compiling a jsonschema validator costs more than running it (~90 us against ~35 us for a
status body). /webhook/command, which the shipped n8n workflows call, has one schema with an
if/then per command resolving $refs: 1.2 ms per body even compiled. Checking its envelope, then
``params`` against the named command's own schema, finds the same problems (a test keeps it so).
"""

from __future__ import annotations

import functools
from typing import Any

from apps.web import schema

#: CommandRequest without its per-command if/then: the command's params are checked on their own
ENVELOPE: schema.JsonSchema = {k: v for k, v in schema.COMMAND_REQUEST.items() if k != "allOf"}


@functools.cache
def _endpoint(command: str) -> Any:
    return schema.compile_schema(schema.endpoint_body(command))


@functools.cache
def _params(command: str) -> Any:
    return schema.compile_schema(schema.PARAMS[command])


@functools.cache
def _envelope() -> Any:
    return schema.compile_schema(ENVELOPE)


def body_problems(command: str | None, body: object) -> list[str]:
    """What ``schema.validate`` says of the body of ``POST /webhook/<command>`` (None:
    ``/webhook/command``, schema.COMMAND_REQUEST); ``command`` must be one of schema.COMMANDS."""
    if command is not None:
        return schema.problems(_endpoint(command), body)
    checks: list[tuple[Any, object, tuple[str, ...]]] = [(_envelope(), body, ())]
    if isinstance(body, dict) and "params" in body:
        named = body.get("command")
        if isinstance(named, str) and named in schema.PARAMS:
            checks.append((_params(named), body["params"], ("params",)))
    return schema.problems_of(*checks)
