"""The Executor contract: a prepared command runs where the executor says, streams its lines
in order, keeps its exit code, sees its env, cwd, stdin and files, brings its changes back,
and leaves no process behind when it times out or is stopped."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchcore.errors import AgentUnavailable
from orchcore.ports.executor import ExecFile, ExecResult, ExecSpec, Executor

ExecutorFactory = Callable[[], Executor]
RunningCounter = Callable[[str], int]
"""How many live processes where the executor runs commands hold ``token`` in their command line."""

_GONE_WITHIN_S = 10.0


def _sleeper(token: str) -> str:
    """A ``sleep`` whose command line is unique to the test (``sleep 3600.<digits>``)."""
    return f"sleep 3600.{token}"


_tokens = itertools.count(int(time.time_ns() % 10**9) * 1000)


def _token() -> str:
    """Digits no other test run uses: the time this module loaded, then a counter."""
    return str(next(_tokens))


class ExecutorContract:
    """Subclass as ``TestMyExecutor(ExecutorContract)``; override ``make_executor`` and
    ``count_running`` (which looks at the processes where that executor runs commands)."""

    @pytest.fixture
    def make_executor(self) -> ExecutorFactory:
        msg = "override make_executor"
        raise NotImplementedError(msg)

    @pytest.fixture
    def count_running(self) -> RunningCounter:
        msg = "override count_running"
        raise NotImplementedError(msg)

    def _run(
        self,
        executor: Executor,
        workdir: Path,
        script: str,
        *,
        timeout_s: float = 30.0,
        stop_on: str | None = None,
        **spec: object,
    ) -> tuple[ExecResult, list[str], str]:
        prepared = executor.prepare(str(workdir))
        lines: list[str] = []
        log = workdir.parent / f"{workdir.name}-logs" / "t-1.log"
        env = spec.pop("env", {"PATH": "/usr/local/bin:/usr/bin:/bin"})

        def on_line(line: str) -> str | None:
            lines.append(line)
            return "enough" if stop_on is not None and line == stop_on else None

        try:
            result = executor.run(
                ExecSpec(
                    argv=("sh", "-c", script),
                    cwd=prepared,
                    env=env,  # type: ignore[arg-type]
                    log_path=str(log),
                    timeout_s=timeout_s,
                    **spec,  # type: ignore[arg-type]
                ),
                on_line,
                lambda: None,
            )
        finally:
            executor.finish(str(workdir), prepared)
        return result, lines, log.read_text(encoding="utf-8") if log.exists() else ""

    def _gone(self, count_running: RunningCounter, token: str) -> bool:
        deadline = time.monotonic() + _GONE_WITHIN_S
        while time.monotonic() < deadline:
            if count_running(token) == 0:
                return True
            time.sleep(0.1)
        return False

    def test_lines_arrive_in_order_and_the_exit_code_is_kept(
        self, make_executor: ExecutorFactory, tmp_path: Path
    ) -> None:
        result, lines, log = self._run(
            make_executor(), tmp_path, "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; exit 7"
        )
        assert lines == [f"line {i}" for i in range(1, 6)]
        assert result.exit_code == 7
        assert result.tail == tuple(lines)
        assert result.stderr_tail == ("oops",)
        assert "line 5\n" in log
        assert "[stderr] oops" in log
        assert not result.timed_out
        assert result.stopped is None

    def test_a_command_that_succeeds_exits_zero(self, make_executor: ExecutorFactory, tmp_path: Path) -> None:
        result, lines, _ = self._run(make_executor(), tmp_path, "echo done")
        assert (result.exit_code, lines) == (0, ["done"])

    def test_the_environment_stdin_and_files_reach_the_command(
        self, make_executor: ExecutorFactory, tmp_path: Path
    ) -> None:
        result, lines, _ = self._run(
            make_executor(),
            tmp_path,
            'echo "var=$ORCH_GREETING"; read first; echo "stdin=$first"; cat "$ORCH_PROMPT_FILE"',
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "ORCH_GREETING": "hello there"},
            stdin_text="from stdin\n",
            files=(ExecFile("ORCH_PROMPT_FILE", "prompt.md", "the prompt\nsecond line\n"),),
        )
        assert result.exit_code == 0
        assert lines == ["var=hello there", "stdin=from stdin", "the prompt", "second line"]

    def test_the_command_runs_in_the_workspace_and_its_changes_come_back(
        self, make_executor: ExecutorFactory, tmp_path: Path
    ) -> None:
        workdir = tmp_path / "work"
        (workdir / "src").mkdir(parents=True)
        (workdir / "src" / "seed.txt").write_text("seeded\n")
        (workdir / "gone.txt").write_text("to delete\n")
        result, lines, _ = self._run(
            make_executor(),
            workdir,
            "cat src/seed.txt; echo made > made.txt; echo more >> src/seed.txt; rm gone.txt",
        )
        assert (result.exit_code, lines) == (0, ["seeded"])
        assert (workdir / "made.txt").read_text() == "made\n"
        assert (workdir / "src" / "seed.txt").read_text() == "seeded\nmore\n"
        assert not (workdir / "gone.txt").exists()

    def test_a_timeout_kills_the_whole_tree(
        self, make_executor: ExecutorFactory, count_running: RunningCounter, tmp_path: Path
    ) -> None:
        token = _token()
        started = time.monotonic()
        result, lines, _ = self._run(
            make_executor(),
            tmp_path,
            f"({_sleeper(token)}) & echo started; {_sleeper(token)}",
            timeout_s=1.5,
        )
        assert result.timed_out
        assert result.exit_code is None
        assert lines == ["started"]
        assert time.monotonic() - started < 20
        assert self._gone(count_running, token), "a process of the timed-out command is still running"

    def test_a_silent_command_is_killed_after_its_idle_timeout(
        self, make_executor: ExecutorFactory, count_running: RunningCounter, tmp_path: Path
    ) -> None:
        token = _token()
        result, _, _ = self._run(
            make_executor(), tmp_path, f"echo hi; {_sleeper(token)}", idle_timeout_s=1.0, tick_s=0.2
        )
        assert result.idle_timed_out
        assert result.exit_code is None
        assert self._gone(count_running, token)

    def test_a_stop_from_the_line_handler_kills_the_whole_tree(
        self, make_executor: ExecutorFactory, count_running: RunningCounter, tmp_path: Path
    ) -> None:
        token = _token()
        result, lines, _ = self._run(
            make_executor(),
            tmp_path,
            f"({_sleeper(token)}) & echo ready; {_sleeper(token)}",
            stop_on="ready",
        )
        assert result.stopped == "enough"
        assert result.exit_code is None
        assert lines == ["ready"]
        assert self._gone(count_running, token), "a process of the stopped command is still running"

    def test_the_tick_handler_is_called_while_the_command_is_silent_and_can_stop_it(
        self, make_executor: ExecutorFactory, count_running: RunningCounter, tmp_path: Path
    ) -> None:
        executor = make_executor()
        prepared = executor.prepare(str(tmp_path))
        token = _token()
        ticks: list[float] = []

        def on_tick() -> str | None:
            ticks.append(time.monotonic())
            return "paused" if len(ticks) >= 3 else None

        spec = ExecSpec(
            argv=("sh", "-c", _sleeper(token)),
            cwd=prepared,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
            log_path=str(tmp_path.parent / f"{tmp_path.name}-t.log"),
            timeout_s=30,
            tick_s=0.2,
        )
        try:
            result = executor.run(spec, lambda line: None, on_tick)
        finally:
            executor.finish(str(tmp_path), prepared)
        assert result.stopped == "paused"
        assert len(ticks) == 3
        assert self._gone(count_running, token)

    def test_check_refuses_a_program_that_is_not_there(self, make_executor: ExecutorFactory) -> None:
        executor = make_executor()
        executor.check("sh", {"PATH": "/usr/local/bin:/usr/bin:/bin"})
        with pytest.raises(AgentUnavailable, match="no-such-agent-program"):
            executor.check("no-such-agent-program", {"PATH": "/usr/local/bin:/usr/bin:/bin"})
