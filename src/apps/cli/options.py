"""Options every `orch` command spells the same way (imports only typer)."""

from __future__ import annotations

from typing import Annotated

import typer

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $ORCH_CONFIG, else orch.yaml next to the task file, else ./orch.yaml).",
    ),
]
SessionOption = Annotated[
    str | None, typer.Option("--session", "-s", help="Session id or a unique prefix (default: the newest).")
]
SessionArgument = Annotated[
    str | None, typer.Argument(help="Session id or a unique prefix (default: the newest); or use -s.")
]
TemporalOption = Annotated[
    str | None,
    typer.Option("--temporal", help="Temporal frontend address, host:port (e.g. 127.0.0.1:7233)."),
]
TaskQueueOption = Annotated[
    str | None, typer.Option("--task-queue", help="Temporal task queue of the sessions (default: orch).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]


def one_session(positional: str | None, option: str | None) -> str | None:
    """The session named as an argument or with -s/--session (either works; both must agree)."""
    if positional is not None and option is not None and positional != option:
        from apps.cli.main import BAD_INPUT, fail

        fail(BAD_INPUT, f"two sessions given ({positional!r} and -s {option!r}): name one")
    return positional if positional is not None else option
