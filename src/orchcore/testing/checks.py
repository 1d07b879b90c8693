"""A CheckRunner for unit tests: checks pass or fail as the test says, files are a dict."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from orchcore.sandbox import SandboxPolicy
from orchcore.supervise.evidence import CheckResult


@attrs.define
class ScriptedCheckRunner:
    """Satisfies orchcore.ports.CheckRunner: ``failing`` commands exit 1 with ``output``, the
    others 0; ``files`` is the workspace as ``read_text`` sees it. Records every command run."""

    failing: set[str] = attrs.field(factory=set)
    output: str = "E   assert 1 == 2\n1 failed"
    files: Mapping[str, str] = attrs.field(factory=dict)
    ran: list[str] = attrs.field(factory=list)

    def run(self, command: str, *, timeout_s: float, sandbox: SandboxPolicy | None = None) -> CheckResult:
        del timeout_s, sandbox
        self.ran.append(command)
        if command in self.failing:
            return CheckResult(command, 1, output_tail=self.output)
        return CheckResult(command, 0, output_tail="1 passed")

    def read_text(self, path: str) -> str | None:
        return self.files.get(path.removeprefix("./"))
