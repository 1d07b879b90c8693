"""What checking an attempt costs orch, beside the agent and the checks themselves: gathering the
evidence (changes and diff since the task's first checkpoint, deliverables), running a check that
does nothing (``true``: the shell's and the process runner's own cost), and the pure pipeline.

On a 1,000-file repository where the attempt changes 5 files. Prints medians over N attempts and
the share of each part; asserts nothing.
Usage: python bench/bench_attempt_check.py [--attempts N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from adapters.checkpoint import ShadowGitCheckpoints, shadow_dir
from adapters.checks import ShellCheckRunner
from adapters.memory.store import InMemoryStore
from orchcore.attempt_check import AttemptChecker
from orchcore.decide import begin
from orchcore.ports.agent import AgentResult
from orchcore.ports.checkpoints import Moment
from orchcore.records import Outcome
from orchcore.service import create_session
from orchcore.supervise import supervise
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, SequentialIds

GIT_ENV = {
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
}


def make_repo(root: Path, files: int) -> Path:
    repo = root / "repo"
    for i in range(files):
        path = repo / f"pkg{i % 50:02d}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"def f{i}():\n    return {i}\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "all"]):
        subprocess.run(["git", *argv], cwd=repo, env=GIT_ENV, check=True)
    return repo


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        repo = make_repo(root, 1000)
        checkpoints = ShadowGitCheckpoints(str(repo), shadow_dir(str(root / "state"), str(repo)))
        checkpoints.take("warm", "0", 1, Moment.BEFORE)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        runner = ShellCheckRunner(str(repo), env=env, log_path=str(root / "checks.log"))
        clock, store = FakeClock(), InMemoryStore()
        whole, checks, pipeline = [], [], []
        for n in range(args.attempts):
            task = Task(
                id=str(n), title="t", description="d", deliverables=("pkg00/new.py",), checks=("true",)
            )
            snap = create_session(store, Plan("t.md", (task,)), SequentialIds(f"s{n}-"), clock)
            snap = store.transact(snap.session.id, lambda s, t=task.id: begin(s, t, clock.now()))
            checkpoints.take(snap.session.id, task.id, 1, Moment.BEFORE)
            for i in range(4):
                (repo / f"pkg{i:02d}" / f"module_{i}.py").write_text(f"def f{i}():\n    return {n}\n")
            (repo / "pkg00" / "new.py").write_text(f"def g():\n    return {n}\n")
            checkpoints.take(snap.session.id, task.id, 1, Moment.AFTER)  # the engine takes it anyway
            checker = AttemptChecker(runner, clock)
            result = AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="done")
            start = time.perf_counter()
            checked = checker.check(store, snap, task, result, checkpoints=checkpoints, now=clock.now())
            whole.append(time.perf_counter() - start)
            start = time.perf_counter()
            runner.run("true", timeout_s=30)
            checks.append(time.perf_counter() - start)
            start = time.perf_counter()
            supervise(task, checked.evidence)
            pipeline.append(time.perf_counter() - start)
            assert checked.decision.action.value == "accept", checked.decision.reason
        total = median_ms(whole)
        print(f"checking one attempt (1,000 files, 5 changed, one `true` check): {total:.1f} ms median")
        print(
            f"  the check `true` (sh, process group, marker sweep): {median_ms(checks):.1f} ms ({median_ms(checks) / total:.0%})"
        )
        print(
            f"  the pure pipeline (validator .. breakpoints):       {median_ms(pipeline):.2f} ms ({median_ms(pipeline) / total:.1%})"
        )
        rest = total - median_ms(checks) - median_ms(pipeline)
        print(f"  evidence from the checkpoints (changes, diff):      {rest:.1f} ms ({rest / total:.0%})")


if __name__ == "__main__":
    main()
