"""Schemathesis over the published /openapi.json, against the real server on loopback:
no generated request (valid or not) gets a 5xx or an answer outside the published schemas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.web import schema
from tests.web.test_webhook import SECRET, SIMPLE, World

pytestmark = pytest.mark.integration

EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("fuzz")).serve()
    (w.tasks_dir / "2026-11-23.md").write_text(SIMPLE)  # what a start without a file finds
    yield w
    w.close()


def test_no_request_gets_a_server_error_or_an_unpublished_answer(served: World) -> None:
    api = schemathesis.openapi.from_url(served.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= len(schema.COMMANDS) + 2  # every command, /health, /openapi.json
    for operation in operations:
        if operation.path == "/webhook/command":
            continue  # its if/then per command is beyond schemathesis' generator: see the next test

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"X-Orch-Secret": SECRET}, checks=CHECKS)

        check()


def test_the_command_endpoint_takes_every_command_body_the_schemas_allow(served: World) -> None:
    """/webhook/command bodies built from each command's published params (the same schemas
    as POST /webhook/<command>): answers are published ones, never a 5xx."""
    api = schemathesis.openapi.from_url(served.url + "/openapi.json")
    published = api["/webhook/command"]["POST"].definition.raw["responses"]
    for result in api.get_all_operations():
        operation = result.ok()
        name = operation.path.removeprefix("/webhook/")
        if name not in schema.COMMANDS:
            continue

        through_command_endpoint(served, name, operation.as_strategy(), published)


def through_command_endpoint(
    served: World, name: str, cases: st.SearchStrategy[schemathesis.Case], published: dict[str, object]
) -> None:
    """Send ``name`` with each generated params body to /webhook/command."""

    @given(case=cases)
    @settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        body = case.body if isinstance(case.body, dict) else {}
        params = {k: v for k, v in body.items() if k != "secret"}
        response = served.post("/webhook/command", {"command": name, "params": params})
        assert response.status_code < 500, response.text
        assert str(response.status_code) in published, response.text
        # served.post checked the answer against schema.SUCCESS / schema.ERROR

    check()


def test_the_fuzzed_server_still_answers(served: World) -> None:
    assert served.ok("/webhook/help")["ok"] is True
