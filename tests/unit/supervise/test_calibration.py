"""Calibration: applying a fitted map, fitting Platt and isotonic maps, and measuring them."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchcore.supervise import (
    IDENTITY,
    Calibration,
    CalibrationKind,
    brier_score,
    calibrated,
    expected_calibration_error,
    fit_isotonic,
    fit_platt,
)

_pairs = st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=60)


def test_the_identity_leaves_the_confidence_as_it_is() -> None:
    assert [calibrated(IDENTITY, x) for x in (0.0, 0.42, 1.0)] == [0.0, 0.42, 1.0]


def test_an_isotonic_map_is_linear_between_its_points_and_flat_beyond_them() -> None:
    cal = Calibration(CalibrationKind.ISOTONIC, xs=(0.2, 0.6), ys=(0.1, 0.9))
    assert [calibrated(cal, x) for x in (0.0, 0.2, 0.4, 0.6, 1.0)] == pytest.approx([0.1, 0.1, 0.5, 0.9, 0.9])


def test_isotonic_fit_pools_violators_into_their_mean() -> None:
    cal = fit_isotonic([0.1, 0.3, 0.5, 0.7], [False, True, False, True])
    assert calibrated(cal, 0.1) == 0.0
    assert calibrated(cal, 0.3) == pytest.approx(0.5)
    assert calibrated(cal, 0.5) == pytest.approx(0.5)
    assert calibrated(cal, 0.7) == 1.0
    assert cal.samples == 4


def test_an_isotonic_fit_is_monotone_and_within_zero_and_one() -> None:
    @given(_pairs, st.lists(st.floats(0, 1), min_size=2, max_size=10))
    def check(pairs: list[tuple[float, bool]], probes: list[float]) -> None:
        cal = fit_isotonic([x for x, _ in pairs], [y for _, y in pairs])
        values = [calibrated(cal, x) for x in sorted(probes)]
        assert all(0.0 <= v <= 1.0 for v in values)
        assert all(a <= b + 1e-12 for a, b in pairwise(values))

    check()


def test_an_isotonic_fit_never_has_a_higher_brier_score_than_the_raw_scores() -> None:
    @given(_pairs)
    def check(pairs: list[tuple[float, bool]]) -> None:
        raw, labels = [x for x, _ in pairs], [y for _, y in pairs]
        cal = fit_isotonic(raw, labels)
        assert brier_score([calibrated(cal, x) for x in raw], labels) <= brier_score(raw, labels) + 1e-9

    check()


def test_platt_fits_a_rising_map_to_labels_that_rise_with_the_score() -> None:
    raw = [i / 20 for i in range(21)]
    labels = [x > 0.55 or (x > 0.35 and i % 2 == 0) for i, x in enumerate(raw)]
    cal = fit_platt(raw, labels)
    assert cal.kind is CalibrationKind.PLATT
    assert cal.a > 0
    assert calibrated(cal, 0.1) < 0.2 < 0.8 < calibrated(cal, 0.95)


def test_platt_stays_finite_on_separable_labels_and_any_input() -> None:
    @given(_pairs)
    def check(pairs: list[tuple[float, bool]]) -> None:
        cal = fit_platt([x for x, _ in pairs], [y for _, y in pairs])
        assert math.isfinite(cal.a)
        assert math.isfinite(cal.b)
        assert all(0.0 <= calibrated(cal, x) <= 1.0 for x, _ in pairs)

    check()


def test_brier_and_ece_of_known_predictions() -> None:
    assert brier_score([0.5, 0.5], [True, False]) == 0.25
    assert brier_score([1.0, 0.0], [True, False]) == 0.0
    # two bins: 0.9 predicted, half right (gap 0.4); 0.1 predicted, none right (gap 0.1)
    ece = expected_calibration_error([0.9, 0.9, 0.1, 0.1], [True, False, False, False])
    assert ece == pytest.approx((0.4 + 0.1) / 2)
