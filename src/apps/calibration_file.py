"""The calibration file ``orch calibrate`` writes and the supervisor reads (JSON, via cattrs).

It keeps the fitted map with the weights it was fitted under: a calibration maps raw scores
of those weights, so after a change of ``supervisor.confidence.weights`` it no longer fits
and is not used (with a warning) until ``orch calibrate`` runs again.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from orchcore.errors import ConfigError

if TYPE_CHECKING:
    import cattrs

    from orchcore.supervise import Calibration, ConfidenceWeights
    from orchcore.supervise.calibration_fit import CalibrationFit

log = logging.getLogger("apps.calibration")

VERSION = 1


@attrs.frozen
class CalibrationRecord:
    """What the file holds: the map, the weights it was fitted under, and how well it fitted."""

    calibration: Calibration
    weights: dict[str, float]
    method: str
    fitted_at: str
    samples: int
    good: int
    brier_before: float
    brier_after: float
    ece_before: float
    ece_after: float
    version: int = VERSION


@functools.cache
def _converter() -> cattrs.Converter:
    import cattrs

    from orchcore.supervise import Calibration

    attrs.resolve_types(CalibrationRecord, {"Calibration": Calibration})
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(float, _number)
    return converter


def _number(value: object, _: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, found {value!r}")
    return float(value)


def record_for(fit: CalibrationFit, weights: ConfidenceWeights, fitted_at: str) -> CalibrationRecord:
    """The record of ``fit``, fitted under ``weights`` at ``fitted_at`` (ISO 8601)."""
    return CalibrationRecord(
        calibration=fit.calibration,
        weights={k: float(v) for k, v in attrs.asdict(weights).items()},
        method=fit.method.value,
        fitted_at=fitted_at,
        samples=fit.samples,
        good=fit.good,
        brier_before=fit.before.brier,
        brier_after=fit.after_held_out.brier,
        ece_before=fit.before.ece,
        ece_after=fit.after_held_out.ece,
    )


def write_calibration(path: Path, record: CalibrationRecord) -> None:
    """Write ``record`` to ``path`` atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_converter().unstructure(record), indent=2) + "\n"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def read_calibration(path: Path) -> CalibrationRecord | None:
    """The record in ``path``; None when there is none. ConfigError names the file and what is wrong."""
    import cattrs

    from orchcore.supervise import Calibration

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the calibration: {exc}") from exc
    fix = "run `orch calibrate` again, or delete the file to use the raw confidence"
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); {fix}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: found {type(data).__name__}, expected a JSON object; {fix}")
    try:
        record = _converter().structure(data, CalibrationRecord)
    except cattrs.BaseValidationError as exc:
        found = "; ".join(cattrs.transform_error(exc, path="calibration"))
        raise ConfigError(f"{path}: {found}; {fix}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}; {fix}") from exc
    cal = record.calibration
    if len(cal.xs) != len(cal.ys) or list(cal.xs) != sorted(cal.xs):
        raise ConfigError(f"{path}: calibration.xs must be sorted and as long as calibration.ys; {fix}")
    if record.version != VERSION:
        raise ConfigError(f"{path}: version {record.version}, expected {VERSION}; {fix}")
    assert isinstance(cal, Calibration)  # noqa: S101 - structured as one just above
    return record


def calibration_for(path: Path, weights: ConfidenceWeights) -> Calibration | None:
    """The calibration to apply under ``weights``: the file's when it was fitted under them,
    else None (the raw confidence), with a warning naming what changed."""
    record = read_calibration(path)
    if record is None:
        return None
    now = {k: float(v) for k, v in attrs.asdict(weights).items()}
    changed = sorted(k for k in now if record.weights.get(k) != now[k])
    if changed:
        log.warning(
            "the calibration in %s was fitted under other confidence weights (%s); it is not used "
            "until `orch calibrate` runs again",
            path,
            ", ".join(changed),
        )
        return None
    return record.calibration
