"""The supervisor's pure pipeline: evidence -> validator -> gates -> judge -> confidence -> decision
-> breakpoints. The engine gathers :class:`Evidence` (I/O) and calls :func:`supervise`; see
``orchcore.supervise.pipeline`` for the wiring and ``docs/supervisor-pipeline.md`` for the rules."""

from orchcore.supervise.breakpoints import DEFAULT_BREAKPOINTS, BreakpointRule, FiredRule, RuleKind
from orchcore.supervise.calibration import (
    IDENTITY,
    Calibration,
    CalibrationKind,
    brier_score,
    calibrated,
    expected_calibration_error,
    fit_isotonic,
    fit_platt,
)
from orchcore.supervise.confidence import Confidence, ConfidenceWeights, Signal, score
from orchcore.supervise.decision import Action, Decision, DecisionConfig, History, TrailEntry
from orchcore.supervise.deliverables import deliverable_state
from orchcore.supervise.diffs import diff_stats, file_diffs
from orchcore.supervise.evidence import (
    ChangedFile,
    CheckResult,
    Deliverable,
    DeliverableState,
    Evidence,
    FileStatus,
    TestCounts,
    changed_file,
    changed_files,
)
from orchcore.supervise.gates import GateConfig, run_gates
from orchcore.supervise.pipeline import SupervisorConfig, check_commands, supervise
from orchcore.supervise.results import GateResult, Remedy, Stage
from orchcore.supervise.testcounts import reported_test_counts
from orchcore.supervise.validator import Validation, ValidatorConfig, validate

__all__ = [
    "DEFAULT_BREAKPOINTS",
    "IDENTITY",
    "Action",
    "BreakpointRule",
    "Calibration",
    "CalibrationKind",
    "ChangedFile",
    "CheckResult",
    "Confidence",
    "ConfidenceWeights",
    "Decision",
    "DecisionConfig",
    "Deliverable",
    "DeliverableState",
    "Evidence",
    "FileStatus",
    "FiredRule",
    "GateConfig",
    "GateResult",
    "History",
    "Remedy",
    "RuleKind",
    "Signal",
    "Stage",
    "SupervisorConfig",
    "TestCounts",
    "TrailEntry",
    "Validation",
    "ValidatorConfig",
    "brier_score",
    "calibrated",
    "changed_file",
    "changed_files",
    "check_commands",
    "deliverable_state",
    "diff_stats",
    "expected_calibration_error",
    "file_diffs",
    "fit_isotonic",
    "fit_platt",
    "reported_test_counts",
    "run_gates",
    "score",
    "supervise",
    "validate",
]
