"""The sandbox and the process runner with the real bwrap and the command agent: the
network closed, a timeout taking the whole PID namespace, a large prompt through the
selector loop, an unknown program refused before anything starts."""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.command.agent import CommandAgent
from adapters.process import RUN_MARKER
from orchcore.errors import AgentUnavailable
from orchcore.ports.agent import AgentEvent, AgentRequest, AgentResult, ProcessStarted
from orchcore.records import Outcome
from orchcore.sandbox import Network, SandboxPolicy, agent_sandbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
    ),
]

ENV = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8"}


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="orch-sandbox-", dir="/var/tmp"))
    (path / "work").mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run(
    root: Path, script: str, sandbox: SandboxPolicy | None, *, prompt: str = "p", timeout_s: float = 30.0
) -> tuple[AgentResult, list[AgentEvent]]:
    (root / "work" / "agent.py").write_text(script)
    events: list[AgentEvent] = []
    request = AgentRequest(
        "s", "t", 1, prompt, str(root / "work"), str(root / "state" / "t-1.log"), timeout_s, sandbox=sandbox
    )
    agent = CommandAgent([sys.executable, "agent.py"], base_env=ENV)
    return agent.run(request, lambda e: events.append(e) or None), events


def policy(root: Path, network: Network = Network.OPEN) -> SandboxPolicy:
    return agent_sandbox(
        workdir=str(root / "work"), home=None, orch_paths=[str(root / "state")], network=network
    )


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's loopback that answers `hello` to whoever connects."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


CONNECT = """
import socket, sys
sys.stdin.read()
try:
    print(socket.create_connection(("127.0.0.1", {port}), timeout=5).recv(5).decode())
except OSError as exc:
    print("refused:", exc)
"""


def test_the_network_is_open_by_default(root: Path, listener: int) -> None:
    result, _ = run(root, CONNECT.format(port=listener), policy(root))
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.output_tail == "hello"


def test_a_closed_network_cannot_reach_even_the_hosts_loopback(root: Path, listener: int) -> None:
    result, _ = run(root, CONNECT.format(port=listener), policy(root, Network.CLOSED))
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.output_tail.startswith("refused:")


HANGS_WITH_A_CHILD = """
import os, subprocess, sys, time
sys.stdin.read()
subprocess.Popen(["setsid", "sleep", "2718"])
print(os.environ["ORCHCORE_AGENT_RUN"], flush=True)
time.sleep(60)
"""


def alive_with(entry: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if entry.encode() in environ.read_bytes().split(b"\0"):
                stat = (environ.parent / "stat").read_text()
                if stat.rpartition(")")[2].split()[0] not in ("Z", "X"):
                    found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_a_timeout_kills_the_agent_and_everything_it_started(root: Path, sandboxed: bool) -> None:
    result, events = run(root, HANGS_WITH_A_CHILD, policy(root) if sandboxed else None, timeout_s=2.0)

    assert result.outcome is Outcome.TIMED_OUT, result
    (started,) = [e for e in events if isinstance(e, ProcessStarted)]
    assert started.group > 0
    assert alive_with(f"{RUN_MARKER}={started.marker}") == []


def test_a_large_prompt_goes_through_whole_and_both_streams_are_read(root: Path) -> None:
    prompt = "".join(f"line {i} of the prompt\n" for i in range(50_000))  # ~1 MB: more than a pipe holds
    script = """
import sys
text = sys.stdin.read()
for i in range(2000):
    print("err", i, file=sys.stderr)
print(len(text), text.count(chr(10)))
"""
    result, _ = run(root, script, policy(root), prompt=prompt)
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.output_tail == f"{len(prompt)} 50000"
    log = (root / "state" / "t-1.log").read_text()
    assert log.count("[stderr] err ") == 2000


def test_the_prompt_file_is_readable_inside_the_hidden_state_dir_but_nothing_else_there(root: Path) -> None:
    (root / "state").mkdir()
    (root / "state" / "state.db").write_text("secret state")
    script = """
import os, sys
sys.stdin.read()
print(open(os.environ["ORCH_PROMPT_FILE"]).read(), sorted(os.listdir(os.path.dirname(os.environ["ORCH_PROMPT_FILE"]))))
"""
    result, _ = run(root, script, policy(root), prompt="the prompt")
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.output_tail == "the prompt ['t-1.prompt.md']"


def test_an_agent_that_is_not_there_is_unavailable_before_anything_runs(root: Path) -> None:
    agent = CommandAgent(["no-such-agent-program"], base_env=ENV)
    request = AgentRequest(
        "s", "t", 1, "p", str(root / "work"), str(root / "state" / "t.log"), 5.0, sandbox=policy(root)
    )
    with pytest.raises(AgentUnavailable, match="no-such-agent-program"):
        agent.run(request, lambda _: None)


def test_an_agent_started_from_a_worker_thread_beside_other_threads_runs_in_the_sandbox(root: Path) -> None:
    # orch runs agents beside the notification sender and uvicorn: no preexec_fn may be needed
    busy = threading.Event()
    spinner = threading.Thread(target=busy.wait, daemon=True)
    spinner.start()
    outcome: list[AgentResult] = []
    outside = root / "outside.txt"  # beside the workspace, not in it
    script = f"import sys\nsys.stdin.read()\nopen({str(outside)!r}, 'a')\n"
    worker = threading.Thread(target=lambda: outcome.append(run(root, script, policy(root))[0]))
    worker.start()
    worker.join(timeout=30)
    busy.set()
    (result,) = outcome
    assert result.outcome is Outcome.FAILED
    assert "Read-only file system" in result.reason
    assert not outside.exists()


def test_no_module_starts_a_process_with_preexec_fn() -> None:
    src = Path(__file__).resolve().parents[2] / "src"
    users = [str(p.relative_to(src)) for p in src.rglob("*.py") if "preexec_fn=" in p.read_text()]
    assert users == []


def test_a_hidden_path_that_is_a_symlink_hides_its_target_too(root: Path) -> None:
    keys = root / "keys"
    keys.mkdir()
    (keys / "id_ed25519").write_text("KEY-MATERIAL")
    home = root / "home"
    home.mkdir()
    (home / ".ssh").symlink_to(keys)
    boxed = agent_sandbox(workdir=str(root / "work"), home=str(home), orch_paths=[str(root / "state")])
    script = f"""
import sys
sys.stdin.read()
for path in ({str(home / ".ssh" / "id_ed25519")!r}, {str(keys / "id_ed25519")!r}):
    try:
        print(open(path).read())
    except OSError as exc:
        print(type(exc).__name__)
"""
    result, _ = run(root, script, boxed)
    assert result.outcome is Outcome.SUCCEEDED, result
    assert "KEY-MATERIAL" not in result.output_tail
    assert result.output_tail.splitlines() == ["FileNotFoundError", "FileNotFoundError"]


def test_a_workspace_reached_through_a_symlink_is_writable(root: Path) -> None:
    link = root / "link-to-work"
    link.symlink_to(root / "work")
    boxed = agent_sandbox(workdir=str(link), home=None, orch_paths=[str(root / "state")])
    (root / "work" / "agent.py").write_text(
        "import sys\nsys.stdin.read()\nopen('made.txt', 'w').write('ok')\n"
    )
    request = AgentRequest("s", "t", 1, "p", str(link), str(root / "state" / "t.log"), 30.0, sandbox=boxed)

    result = CommandAgent([sys.executable, "agent.py"], base_env=ENV).run(request, lambda _: None)

    assert result.outcome is Outcome.SUCCEEDED, result
    assert (root / "work" / "made.txt").read_text() == "ok"


LOOKS_AROUND_TMP = """#!/bin/sh
cat > /dev/null
for f in "$@"; do
  if [ -e "$f" ]; then echo "seen $f"; else echo "gone $f"; fi
done
echo ran
"""


@pytest.fixture
def in_tmp() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="orch-sandbox-tmp-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_an_agent_program_installed_under_tmp_runs_though_the_rest_of_tmp_stays_private(
    root: Path, in_tmp: Path
) -> None:
    # a checkout cloned under /tmp keeps its pinned CLIs in <clone>/.tools: bwrap's private /tmp
    # hid them and the run failed with `execvp ...: No such file or directory`
    program = in_tmp / "checkout" / ".tools" / "agent" / "bin" / "look"
    program.parent.mkdir(parents=True)
    program.write_text(LOOKS_AROUND_TMP)
    program.chmod(0o755)
    link = in_tmp / "checkout" / ".tools" / "bin" / "look"  # as node_modules/.bin does
    link.parent.mkdir(parents=True)
    link.symlink_to(program)
    state = in_tmp / "checkout" / "state"  # orch's own files beside it: hidden still
    state.mkdir()
    (state / "state.db").write_text("secret")
    elsewhere = Path(tempfile.mkdtemp(prefix="orch-other-", dir="/tmp"))
    try:
        (elsewhere / "note").write_text("another user's file")
        sandbox = agent_sandbox(workdir=str(root / "work"), home=None, orch_paths=[str(state)])
        request = AgentRequest(
            "s", "t", 1, "p", str(root / "work"), str(root / "log" / "t-1.log"), 30.0, sandbox=sandbox
        )
        agent = CommandAgent(
            [str(link), str(elsewhere / "note"), str(state / "state.db"), str(program)], base_env=ENV
        )
        result = agent.run(request, lambda _: None)
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)

    assert result.outcome is Outcome.SUCCEEDED, result
    log = (root / "log" / "t-1.log").read_text()
    assert f"gone {elsewhere / 'note'}" in log
    assert f"gone {state / 'state.db'}" in log
    assert f"seen {program}" in log
    assert result.output_tail.endswith("ran")
