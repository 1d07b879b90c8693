"""Calibrating the confidence against what humans decided: a fitted map, how to apply it, how to
fit it, and how to measure it.

``orch calibrate`` (apps, later) reads labelled history — raw confidence of each stopped
or accepted attempt, and 1 where the human accepted the work, 0 where they rejected it
— fits a :class:`Calibration` with :func:`fit_platt` (few labels: two parameters) or
:func:`fit_isotonic` (many labels: any monotone shape), stores it (cattrs maps the value
as it is) and the supervisor applies it with :func:`calibrated`. The fits are plain
Python (Newton's method for Platt's logistic, pool-adjacent-violators for isotonic):
a few dozen lines against scikit-learn's install weight, and pure, so they live here.
:func:`brier_score` and :func:`expected_calibration_error` are what the bench prints.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import attrs


class CalibrationKind(enum.StrEnum):
    """Which map a calibration is."""

    IDENTITY = "identity"
    PLATT = "platt"  # 1 / (1 + exp(-(a * raw + b)))
    ISOTONIC = "isotonic"  # a non-decreasing step map, linear between its points


@attrs.frozen
class Calibration:
    """A fitted map from raw confidence to calibrated probability; ``samples`` is how many labels
    it was fitted on (0 for the identity)."""

    kind: CalibrationKind = CalibrationKind.IDENTITY
    a: float = 1.0
    b: float = 0.0
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    samples: int = 0


IDENTITY = Calibration()


def _clamp(value: float) -> float:
    return 0.0 if math.isnan(value) else min(max(value, 0.0), 1.0)


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def calibrated(calibration: Calibration, raw: float) -> float:
    """``raw`` through ``calibration``, in [0, 1]; an isotonic map is flat beyond its ends."""
    raw = _clamp(raw)
    if calibration.kind is CalibrationKind.PLATT:
        return _clamp(_sigmoid(calibration.a * raw + calibration.b))
    if calibration.kind is CalibrationKind.ISOTONIC and calibration.xs:
        xs, ys = calibration.xs, calibration.ys
        if raw <= xs[0]:
            return _clamp(ys[0])
        for (x0, y0), (x1, y1) in zip(
            zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False
        ):
            if raw <= x1:
                return _clamp(y0 if x1 == x0 else y0 + (y1 - y0) * (raw - x0) / (x1 - x0))
        return _clamp(ys[-1])
    return raw


def fit_platt(raw: Sequence[float], labels: Sequence[bool], *, iterations: int = 50) -> Calibration:
    """Platt scaling: the logistic map of ``raw`` that best predicts ``labels`` (log-loss, Newton steps,
    Platt's smoothed targets so separable data stays finite)."""
    positives = sum(labels)
    negatives = len(labels) - positives
    hi, lo = (positives + 1) / (positives + 2), 1 / (negatives + 2)
    targets = [hi if label else lo for label in labels]
    a, b = 1.0, 0.0
    for _ in range(iterations):
        g_a = g_b = h_aa = h_ab = h_bb = 0.0
        for x, t in zip(raw, targets, strict=True):
            p = _sigmoid(a * x + b)
            w = max(p * (1 - p), 1e-12)
            g_a += (p - t) * x
            g_b += p - t
            h_aa += w * x * x
            h_ab += w * x
            h_bb += w
        det = h_aa * h_bb - h_ab * h_ab
        if abs(det) < 1e-12:
            break
        step_a = (h_bb * g_a - h_ab * g_b) / det
        step_b = (h_aa * g_b - h_ab * g_a) / det
        a, b = a - step_a, b - step_b
        if abs(step_a) + abs(step_b) < 1e-9:
            break
    return Calibration(CalibrationKind.PLATT, a=a, b=b, samples=len(labels))


def fit_isotonic(raw: Sequence[float], labels: Sequence[bool]) -> Calibration:
    """Isotonic regression by pool-adjacent-violators: the non-decreasing map closest to ``labels``."""
    if not raw:
        return IDENTITY
    pairs = sorted(zip((_clamp(x) for x in raw), (float(y) for y in labels), strict=True))
    groups: list[list[float]] = []  # ties first: one point per distinct score, [sum of y, count, x]
    for x, y in pairs:
        if groups and groups[-1][2] == x:
            groups[-1][0] += y
            groups[-1][1] += 1
        else:
            groups.append([y, 1.0, x])
    blocks: list[list[float]] = []  # [sum of y, count, smallest x, largest x]
    for total, count, x in groups:
        blocks.append([total, count, x, x])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1] = [blocks[-1][0] + last[0], blocks[-1][1] + last[1], blocks[-1][2], last[3]]
    xs: list[float] = []
    ys: list[float] = []
    for total, count, low, high in blocks:
        for x in (low, high) if high > low else (low,):
            xs.append(x)
            ys.append(total / count)
    return Calibration(CalibrationKind.ISOTONIC, xs=tuple(xs), ys=tuple(ys), samples=len(pairs))


def brier_score(predicted: Sequence[float], labels: Sequence[bool]) -> float:
    """Mean squared distance between confidence and outcome (0 is perfect; always 0.25 for 0.5)."""
    if not predicted:
        return 0.0
    return sum((p - float(y)) ** 2 for p, y in zip(predicted, labels, strict=True)) / len(predicted)


def expected_calibration_error(
    predicted: Sequence[float], labels: Sequence[bool], *, bins: int = 10
) -> float:
    """The gap between confidence and accuracy, averaged over ``bins`` equal-width bins by their size."""
    if not predicted:
        return 0.0
    buckets: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, y in zip(predicted, labels, strict=True):
        buckets[min(int(_clamp(p) * bins), bins - 1)].append((p, y))
    gap = 0.0
    for bucket in buckets:
        if bucket:
            mean_p = sum(p for p, _ in bucket) / len(bucket)
            accuracy = sum(y for _, y in bucket) / len(bucket)
            gap += len(bucket) / len(predicted) * abs(mean_p - accuracy)
    return gap
