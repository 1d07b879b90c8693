"""Fitting a calibration to labelled attempts, with the figures ``orch calibrate`` prints.

:func:`fit_labels` refuses (:class:`TooFewLabels`, saying what is needed) below a minimum
sample size or without both outcomes; otherwise it fits Platt or isotonic scaling and
reports Brier score and ECE before (the raw confidence) and after — in-sample, and by
leave-one-out (each label predicted by a map fitted without it), which is the honest
figure for a map fitted on a few dozen labels.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from orchcore.supervise.calibration import (
    Calibration,
    brier_score,
    calibrated,
    expected_calibration_error,
    fit_isotonic,
    fit_platt,
)

MIN_EACH = 3  # labels of each outcome, whatever the method


class Method(enum.StrEnum):
    """How ``orch calibrate`` fits: Platt (two parameters, few labels) or isotonic (any monotone map)."""

    PLATT = "platt"
    ISOTONIC = "isotonic"


MIN_SAMPLES = {Method.PLATT: 10, Method.ISOTONIC: 30}


@attrs.frozen
class Scores:
    """Brier score and expected calibration error of one set of predictions."""

    brier: float
    ece: float


@attrs.frozen
class CalibrationFit:
    """A fitted calibration and how it scores on the labels it was fitted to."""

    calibration: Calibration
    method: Method
    samples: int
    good: int
    before: Scores
    after: Scores
    after_held_out: Scores


@attrs.frozen
class TooFewLabels:
    """Why no calibration was fitted, and what is needed."""

    samples: int
    good: int
    needed: int
    method: Method

    @property
    def message(self) -> str:
        """``calibrate needs at least 10 labelled attempts, at least 3 good and 3 bad; found ...``."""
        bad = self.samples - self.good
        return (
            f"{self.method.value} calibration needs at least {self.needed} labelled attempts, at least "
            f"{MIN_EACH} good and {MIN_EACH} bad; found {self.samples} ({self.good} good, {bad} bad). "
            "Labels are your `orch approve` / `orch reject` of tasks stopped for review and "
            "`rating: TASK good|bad` lines in feedback/*.md"
        )


def _fit(method: Method, raw: Sequence[float], labels: Sequence[bool]) -> Calibration:
    return fit_platt(raw, labels) if method is Method.PLATT else fit_isotonic(raw, labels)


def _scores(predicted: Sequence[float], labels: Sequence[bool]) -> Scores:
    return Scores(brier_score(predicted, labels), expected_calibration_error(predicted, labels))


def fit_labels(
    raw: Sequence[float], labels: Sequence[bool], method: Method = Method.PLATT
) -> CalibrationFit | TooFewLabels:
    """A calibration of ``raw`` confidence to ``labels`` (True: good work), or why there is none."""
    samples, good = len(labels), sum(labels)
    needed = MIN_SAMPLES[method]
    if samples < needed or good < MIN_EACH or samples - good < MIN_EACH:
        return TooFewLabels(samples, good, needed, method)
    fitted = _fit(method, raw, labels)
    held_out = []
    for i in range(samples):
        rest_raw = [*raw[:i], *raw[i + 1 :]]
        rest_labels = [*labels[:i], *labels[i + 1 :]]
        held_out.append(calibrated(_fit(method, rest_raw, rest_labels), raw[i]))
    return CalibrationFit(
        calibration=fitted,
        method=method,
        samples=samples,
        good=good,
        before=_scores(raw, labels),
        after=_scores([calibrated(fitted, x) for x in raw], labels),
        after_held_out=_scores(held_out, labels),
    )
