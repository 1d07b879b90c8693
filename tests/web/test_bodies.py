"""The request validators kept compiled (apps.web.bodies) say exactly what the published schema
says: the whole CommandRequest (with its if/then per command) and every endpoint's body."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.web import schema
from apps.web.bodies import body_problems

scalars = st.none() | st.booleans() | st.integers(-5, 5000) | st.text(max_size=6) | st.floats(allow_nan=False)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
)
field_names = st.sampled_from(
    ["session", "task", "text", "reason", "lines", "attempt", "file", "new", "secret", "x"]
)
#: params near the real ones, so generated bodies reach every branch, not only "unknown field"
params = st.dictionaries(
    field_names, json_values | st.sampled_from(["", "1", 0, 1, 40, 1001, True]), max_size=4
)
commands = st.sampled_from([*schema.COMMANDS, "nope"]) | json_values
envelopes = st.fixed_dictionaries(
    {"command": commands},
    optional={"params": params | json_values, "secret": json_values, "extra": json_values},
)


def test_the_command_endpoint_finds_what_the_whole_schema_finds() -> None:
    @settings(max_examples=400, deadline=None)
    @given(body=envelopes | json_values)
    def check(body: Any) -> None:
        assert body_problems(None, body) == schema.validate(body, schema.COMMAND_REQUEST)

    check()


def test_each_endpoint_finds_what_its_schema_finds() -> None:
    @settings(max_examples=300, deadline=None)
    @given(command=st.sampled_from(list(schema.COMMANDS)), body=params | json_values)
    def check(command: str, body: Any) -> None:
        assert body_problems(command, body) == schema.validate(body, schema.endpoint_body(command))

    check()


def test_a_bad_command_body_lists_every_problem_with_its_place() -> None:
    body = {"command": "logs", "params": {"lines": 0, "task": "", "zz": 1}, "extra": 1}
    assert body_problems(None, body) == [
        "body: unknown field 'extra'",
        "params: unknown field 'zz'",
        "params.lines: must be at least 1",
        "params.task: must not be empty",
    ]
