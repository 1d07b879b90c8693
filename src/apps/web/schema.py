"""The webhook API's contract: request and response schemas, the OpenAPI 3.1
document built from them, and the validator that checks request bodies
against the very same dicts.

:func:`validate` checks bodies with jsonschema (Draft 2020-12, the dialect of
OpenAPI 3.1) and words the problems itself, so no message echoes a value that
was sent. ``KEYWORDS`` lists the keywords these schemas use; a test keeps it so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

JsonSchema = dict[str, Any]

# every command the webhook accepts, in the order help lists them
COMMANDS: dict[str, str] = {
    "start": "Start a session from a task file in the tasks directory; the server runs it.",
    "status": "Where the session stands: every task's state and what to do next.",
    "approve": "Approve the task waiting for approval (or review); the server goes on.",
    "reject": "Reject the waiting task: it fails and tasks depending on it will not run; a task stopped for review runs again instead, with the reason as feedback.",
    "pause": "Pause the session: a running task finishes, nothing new starts.",
    "resume": "Continue a paused, halted or stopped session.",
    "skip": "Skip a task that has not completed; tasks depending on it may run.",
    "retry": "Queue a failed, interrupted or cancelled task for another attempt.",
    "cancel": "Cancel the session for good; a running agent is stopped.",
    "answer": "Answer the question the waiting task asked; the server goes on.",
    "logs": "The last lines of a task's log, or the session's latest events.",
    "report": "The session's report (markdown) as the message: outcomes, attempts, time, cost.",
    "help": "This list.",
}

ERROR_STATUS: dict[str, int] = {
    "bad_request": 400,
    "invalid_json": 400,
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "illegal_transition": 409,
    "conflict": 409,
    "busy": 409,
    "request_timeout": 408,
    "too_large": 413,
    "validation": 422,
    "rate_limited": 429,
    "internal": 500,
    "store_error": 500,
    "agent_unavailable": 503,
}

MAX_TEXT = 4000
MAX_LINES = 1000

_SESSION: JsonSchema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "description": "Session id or a unique prefix; default: the newest session.",
}
_TASK: JsonSchema = {
    "type": ["string", "integer"],
    "minLength": 1,
    "maxLength": 200,
    "description": "Task id (a number is read as its text).",
}
_TEXT: JsonSchema = {"type": "string", "maxLength": MAX_TEXT}
_SECRET: JsonSchema = {
    "type": "string",
    "writeOnly": True,
    "description": "The shared secret, for clients that cannot set a header (n8n). Prefer X-Orch-Secret.",
}


def _title(command: str) -> str:
    return command.capitalize()


def _params(properties: JsonSchema, required: tuple[str, ...] = ()) -> JsonSchema:
    schema: JsonSchema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


_TASK_FILE: JsonSchema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "description": "Task file (.md, .yaml, .yml) relative to the tasks directory; without it, "
    "today's: the one file with today's date (YYYY-MM-DD, budget time zone) in its name.",
}

PARAMS: dict[str, JsonSchema] = {
    "start": _params(
        {
            "file": _TASK_FILE,
            "task_file": {**_TASK_FILE, "description": "Another name for `file`."},
            "auto_approve": {"type": "boolean", "description": "Start tasks without asking."},
            "new": {
                "type": "boolean",
                "description": "Start a new session even if this file has an unfinished one.",
            },
        },
    ),
    "status": _params({"session": _SESSION}),
    "approve": _params({"session": _SESSION, "task": _TASK}),
    "reject": _params({"session": _SESSION, "task": _TASK, "reason": _TEXT, "text": _TEXT}),
    "pause": _params({"session": _SESSION}),
    "resume": _params({"session": _SESSION}),
    "skip": _params({"session": _SESSION, "task": _TASK}, ("task",)),
    "retry": _params({"session": _SESSION, "task": _TASK}, ("task",)),
    "cancel": _params({"session": _SESSION}),
    "answer": _params({"session": _SESSION, "task": _TASK, "text": {**_TEXT, "minLength": 1}}, ("text",)),
    "logs": _params(
        {
            "session": _SESSION,
            "task": {**_TASK, "description": "Task id: its log; without it, the session's events."},
            "lines": {"type": "integer", "minimum": 1, "maximum": MAX_LINES, "default": 40},
            "attempt": {"type": "integer", "minimum": 1, "description": "Default: the latest."},
        }
    ),
    "report": _params({"session": _SESSION}),
    "help": _params({}),
}


def endpoint_body(command: str) -> JsonSchema:
    """The body of ``POST /webhook/<command>``: the command's params, plus ``secret``."""
    params = PARAMS[command]
    return {**params, "properties": {**params["properties"], "secret": _SECRET}}


COMMAND_REQUEST: JsonSchema = {
    "type": "object",
    "properties": {
        "command": {"enum": list(COMMANDS)},
        "params": {"type": "object", "description": "The command's params (see <Command>Params)."},
        "secret": _SECRET,
    },
    "required": ["command"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"command": {"const": name}}, "required": ["command"]},
            "then": {"properties": {"params": {"$ref": f"#/components/schemas/{_title(name)}Params"}}},
        }
        for name in COMMANDS
    ],
}

_NULLABLE_STR: JsonSchema = {"type": ["string", "null"]}
_NULLABLE_INT: JsonSchema = {"type": ["integer", "null"]}


def _object(properties: JsonSchema) -> JsonSchema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


TASK_VIEW = _object(
    {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "type": {"type": "string"},
        "priority": {"type": "string"},
        "state": {"type": "string"},
        "attempts": {"type": "integer"},
        "reason": {"type": "string"},
        "blocked_by": _NULLABLE_STR,
        "cost_usd": {**_NULLABLE_STR, "description": "Decimal USD as text."},
        "input_tokens": _NULLABLE_INT,
        "output_tokens": _NULLABLE_INT,
    }
)

SESSION_VIEW = _object(
    {
        "id": {"type": "string"},
        "state": {"type": "string"},
        "reason": {"type": "string"},
        "source": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "version": {"type": "integer"},
        "waiting_for": _NULLABLE_STR,
        "gate": _NULLABLE_STR,
        "auto_approve": {"type": "boolean"},
        "agent": {"type": "string"},
        "engine": {**_NULLABLE_STR, "description": "The engine driving the session now, if any."},
        "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/TaskView"}},
    }
)

SUCCESS = _object(
    {
        "ok": {"const": True},
        "command": {"enum": list(COMMANDS)},
        "message": {"type": "string", "description": "One readable line, fit to forward to a chat."},
        "session": {"oneOf": [{"$ref": "#/components/schemas/SessionView"}, {"type": "null"}]},
        "next": {
            "type": "array",
            "items": {"type": "string"},
            "description": "What a human can do next, as commands (`approve 3`).",
        },
        "changed": {
            "oneOf": [
                _object(
                    {
                        "previous_state": {"type": "string"},
                        "tasks": {"type": "object", "additionalProperties": {"type": "string"}},
                    }
                ),
                {"type": "null"},
            ]
        },
        "queued": {"type": "boolean", "description": "Whether this server's engine will drive the session."},
        "logs": {
            "oneOf": [
                _object(
                    {
                        "task": _NULLABLE_STR,
                        "attempt": _NULLABLE_INT,
                        "lines": {"type": "array", "items": {"type": "string"}},
                    }
                ),
                {"type": "null"},
            ]
        },
        "help": {"oneOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "null"}]},
    }
)

ERROR = _object(
    {
        "ok": {"const": False},
        "error": {
            "type": "object",
            "properties": {
                "code": {"enum": list(ERROR_STATUS)},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["code", "message"],
            "additionalProperties": False,
        },
    }
)

HEALTH = _object(
    {
        "status": {"enum": ["ok", "degraded"], "description": "degraded: the engine thread has stopped."},
        "version": {"type": "string"},
        "uptime": {"type": "number", "description": "Seconds since the server started."},
    }
)


COMPONENTS: dict[str, JsonSchema] = {
    "CommandRequest": COMMAND_REQUEST,
    **{f"{_title(name)}Params": PARAMS[name] for name in COMMANDS},
    **{f"{_title(name)}Body": endpoint_body(name) for name in COMMANDS},
    "Success": SUCCESS,
    "Error": ERROR,
    "SessionView": SESSION_VIEW,
    "TaskView": TASK_VIEW,
    "Health": HEALTH,
}

_AUTH_NOTE = (
    "Every /webhook endpoint needs the shared secret: header `X-Orch-Secret` (preferred), "
    "`Authorization: Bearer <secret>`, or a `secret` field in the JSON body. Bodies are limited "
    "to 64 KiB; after 10 failed attempts in a minute a client gets 429 until the minute has passed."
)


def _error_responses(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Bad request: not JSON (`invalid_json`), a bad task file path or content (`bad_request`).",
        401: "Missing or wrong secret (`unauthorized`); nothing was done.",
        404: "No such session, task or task file (`not_found`).",
        409: "Not allowed in the session's state (`illegal_transition`), another engine drives it "
        "(`busy`), or the file has an unfinished session (`conflict`); nothing was changed.",
        408: "The body did not arrive in time (`request_timeout`).",
        413: "Body larger than the limit (`too_large`).",
        422: "The body does not match the schema (`validation`); `details` lists every problem.",
        429: "Too many failed secrets from this client (`rate_limited`); see Retry-After.",
        500: "The state store failed (`store_error`) or a bug (`internal`).",
        503: "The agent cannot start (`agent_unavailable`).",
    }
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(s): {"description": text[s], "content": ref} for s in statuses}


def _operation(summary: str, body_ref: str, operation_id: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "operationId": operation_id,
        "security": [{"OrchSecret": []}, {"Bearer": []}],
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body_ref}"}}},
        },
        "responses": {
            "200": {
                "description": "Done; `session` is the state after the command.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Success"}}},
            },
            **_error_responses(400, 401, 404, 408, 409, 413, 422, 429, 500, 503),
        },
    }


def openapi_document(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the webhook API, served at ``GET /openapi.json``."""
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "summary": "Liveness; needs no secret.",
                "operationId": "health",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The server is up.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document; needs no secret.",
                "operationId": "openapi",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            }
        },
        "/webhook/command": {
            "post": _operation("Run any command: {command, params}.", "CommandRequest", "command")
        },
    }
    for name, summary in COMMANDS.items():
        paths[f"/webhook/{name}"] = {"post": _operation(summary, f"{_title(name)}Body", name)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orchcore webhook",
            "version": version,
            "description": "Remote control of orchcore sessions (`orch serve`). " + _AUTH_NOTE,
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "OrchSecret": {"type": "apiKey", "in": "header", "name": "X-Orch-Secret"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


# ---- validation ------------------------------------------------------------

ANNOTATIONS = frozenset({"description", "default", "format", "writeOnly", "title", "examples"})
KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "allOf",
        "oneOf",
        "if",
        "then",
        *ANNOTATIONS,
    }
)
_REF_PREFIX = "#/components/schemas/"
_MAX_NAME = 40


def json_type(value: object) -> str:
    """The JSON type name of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _at(path: str, key: str) -> str:
    shown = key if len(key) <= _MAX_NAME else key[:_MAX_NAME] + "..."
    return f"{path}.{shown}" if path else shown


def _where(path: str, parts: Iterable[str | int]) -> str:
    where = path
    for part in parts:
        where = f"{where or 'body'}[{part}]" if isinstance(part, int) else _at(where, part)
    return where or "body"


def _describe(error: Any) -> str:
    """What is wrong, naming fields and expectations but never the value sent (it may be a secret)."""
    kind, expected, found = error.validator, error.validator_value, error.instance
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"expected {' or '.join(names)}, found {json_type(found)}"
    if kind == "required":
        missing = [name for name in expected if isinstance(found, dict) and name not in found]
        return f"missing required field {missing[0]!r}" if missing else "missing a required field"
    if kind == "additionalProperties":
        allowed = error.schema.get("properties", {})
        unknown = [k for k in found if k not in allowed] if isinstance(found, dict) else []
        return f"unknown field {_at('', unknown[0])!r}" if unknown else "unknown field"
    if kind == "const":
        return f"must be {expected!r}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, expected))}"
    if kind == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if kind == "maxLength":
        return f"must be at most {expected} characters"
    if kind == "minimum":
        return f"must be at least {expected}"
    if kind == "maximum":
        return f"must be at most {expected}"
    if kind == "oneOf":
        return "does not match exactly one of the allowed shapes"
    return f"does not satisfy {kind!r}"


def validate(
    value: object,
    schema: Mapping[str, Any],
    path: str = "",
    components: Mapping[str, JsonSchema] | None = None,
) -> list[str]:
    """Every way ``value`` breaks ``schema`` (JSON Schema 2020-12, as OpenAPI 3.1 uses), as
    ``path: what is wrong`` lines; empty when valid.

    Messages name fields and expectations, never the values sent (they may hold a secret).
    Request bodies go through apps.web.bodies, which keeps the compiled validators.
    """
    return problems(compile_schema(schema, components), value, path)


def compile_schema(schema: Mapping[str, Any], components: Mapping[str, JsonSchema] | None = None) -> Any:
    """A jsonschema validator for ``schema``, whose ``#/components/schemas/...`` references
    resolve against ``components`` (default: COMPONENTS)."""
    from jsonschema import Draft202012Validator  # only the server needs it: `orch --help` stays fast

    refs = COMPONENTS if components is None else components
    return Draft202012Validator({**schema, "components": {"schemas": dict(refs)}})


def problems(validator: Any, value: object, path: str = "") -> list[str]:
    """What :func:`validate` answers, from a validator made by :func:`compile_schema`."""
    errors = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_where(path, e.absolute_path)}: {_describe(e)}" for e in errors]


def problems_of(*checks: tuple[Any, object, tuple[str, ...]]) -> list[str]:
    """The problems of parts of one body, each ``(validator, value, where it is in the body)``,
    in path order as :func:`problems` gives them for the whole."""
    found = [
        ([*at, *map(str, e.absolute_path)], f"{_where('', [*at, *e.absolute_path])}: {_describe(e)}")
        for validator, value, at in checks
        for e in validator.iter_errors(value)
    ]
    return [line for _, line in sorted(found, key=lambda f: f[0])]
