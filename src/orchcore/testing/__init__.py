"""A test kit for orchcore users: fakes for every port and one contract suite per port.

Import it from tests only (it needs pytest and hypothesis); production code never does.
"""

from __future__ import annotations

from orchcore.testing.checks import ScriptedCheckRunner
from orchcore.testing.drafter import ScriptedDrafter
from orchcore.testing.fakes import (
    FakeClock,
    MemoryLogs,
    MemoryQuestions,
    RecordingNotifier,
    ScriptedAgent,
    SequentialIds,
)
from orchcore.testing.summarizer import ScriptedSummarizer
from orchcore.testing.supervisor import ScriptedSupervisor, verdict_for

__all__ = [
    "FakeClock",
    "MemoryLogs",
    "MemoryQuestions",
    "RecordingNotifier",
    "ScriptedAgent",
    "ScriptedCheckRunner",
    "ScriptedDrafter",
    "ScriptedSummarizer",
    "ScriptedSupervisor",
    "SequentialIds",
    "verdict_for",
]
