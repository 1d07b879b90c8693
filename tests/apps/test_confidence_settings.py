"""``supervisor.confidence`` as a user writes it (weights, calibration file), and the calibration
file the supervisor reads from the state dir."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.bootstrap import build_runtime
from apps.calibration_file import calibration_for, read_calibration, record_for, write_calibration
from apps.settings import WeightSettings, load_settings
from orchcore.errors import ConfigError
from orchcore.supervise import CalibrationKind, ConfidenceWeights, calibrated
from orchcore.supervise.calibration_fit import CalibrationFit, Method, fit_labels


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "orch.yaml"
    path.write_text(text)
    return str(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, text), environ={})
    return str(refused.value).splitlines()


def a_fit() -> CalibrationFit:
    raw = [0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.5, 0.45]
    good = [False, False, True, False, True, True, True, False, True, True, False, True]
    fit = fit_labels(raw, good, Method.PLATT)
    assert isinstance(fit, CalibrationFit)
    return fit


def test_every_weight_of_the_scorer_can_be_set_and_the_rest_keep_their_defaults(tmp_path: Path) -> None:
    assert {f.name for f in attrs.fields(WeightSettings)} == {f.name for f in attrs.fields(ConfidenceWeights)}
    path = write(
        tmp_path,
        "supervisor:\n  confidence:\n    weights:\n      judge: 5\n      diff_size: 0\n      prior: 1.5\n",
    )
    sv = load_settings(path, environ={}).supervisor
    assert sv.pipeline().weights == ConfidenceWeights(judge=5.0, diff_size=0.0, prior=1.5)


def test_bad_weights_are_all_named_at_once_with_file_line_and_what_is_allowed(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "supervisor:\n"
        "  confidence:\n"
        "    weights:\n"
        "      checks: -1\n"
        "      judge: lots\n"
        "      failure_factor: 2\n"
        "      vibes: 1\n",
    )
    text = "\n".join(found)
    assert (
        "orch.yaml:4: supervisor.confidence.weights.checks: found -1, expected a weight of 0 or more" in text
    )
    assert "orch.yaml:5: supervisor.confidence.weights.judge: found 'lots', expected a number" in text
    assert (
        "orch.yaml:6: supervisor.confidence.weights.failure_factor: found 2, expected a factor from 0 to 1"
        in text
    )
    assert "orch.yaml:7: supervisor.confidence.weights.vibes: unknown key" in text
    assert len(found) == 4, found


def test_without_a_calibration_file_the_supervisor_uses_the_raw_confidence(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "paths:\n  state_dir: state\n"), environ={})
    assert settings.calibration_path == tmp_path / "state" / "calibration.json"
    rt = build_runtime(settings)
    try:
        assert rt.attempt_checker().config.calibration.kind is CalibrationKind.IDENTITY
    finally:
        rt.close()


def test_a_calibration_in_the_state_dir_is_what_the_supervisor_applies(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "paths:\n  state_dir: state\n"), environ={})
    fit = a_fit()
    write_calibration(
        settings.calibration_path, record_for(fit, settings.supervisor.weights(), "2026-12-01T09:00:00+00:00")
    )
    rt = build_runtime(settings)
    try:
        used = rt.attempt_checker().config.calibration
    finally:
        rt.close()
    assert used == fit.calibration
    assert calibrated(used, 0.9) != 0.9


def test_a_calibration_fitted_under_other_weights_is_not_used_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "calibration.json"
    write_calibration(path, record_for(a_fit(), ConfidenceWeights(), "2026-12-01T09:00:00+00:00"))
    with caplog.at_level(logging.WARNING):
        assert calibration_for(path, ConfidenceWeights(judge=5.0)) is None
    assert "fitted under other confidence weights (judge)" in caplog.text
    assert calibration_for(path, ConfidenceWeights()) is not None


def test_a_damaged_calibration_file_is_named_with_what_is_wrong_and_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    write_calibration(path, record_for(a_fit(), ConfidenceWeights(), "2026-12-01T09:00:00+00:00"))
    data = json.loads(path.read_text())
    data["calibration"]["kind"] = "magic"
    data["samples"] = "many"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as refused:
        read_calibration(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    assert "calibration.calibration.kind" in message
    assert "calibration.samples" in message
    assert "run `orch calibrate` again, or delete the file" in message
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"calibration.json:1: not valid JSON"):
        read_calibration(path)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)


def test_any_json_in_the_calibration_file_is_a_record_or_a_clear_config_error() -> None:
    good = json.loads(json.dumps(_record_data()))
    keys = st.sampled_from([*good, "calibration.kind", "calibration.xs", "weights.judge"])

    @settings(max_examples=150, deadline=None)
    @given(data=_json | st.builds(_mutated, st.just(good), keys, _json))
    def check(data: object) -> None:
        with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
            path = Path(folder) / "calibration.json"
            path.write_text(json.dumps(data))
            message = ""
            try:
                record = read_calibration(path)
            except ConfigError as exc:
                record, message = None, str(exc)
            if record is None:
                assert message.startswith(f"{path}")
                assert "orch calibrate" in message
            else:
                assert 0.0 <= calibrated(record.calibration, 0.5) <= 1.0

    check()


def _record_data() -> dict[str, object]:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
        path = Path(folder) / "c.json"
        write_calibration(path, record_for(a_fit(), ConfidenceWeights(), "2026-12-01T09:00:00+00:00"))
        data: dict[str, object] = json.loads(path.read_text())
    return data


def _mutated(good: dict[str, object], key: str, value: object) -> dict[str, object]:
    data = json.loads(json.dumps(good))
    if "." in key:
        outer, inner = key.split(".")
        data[outer][inner] = value
    else:
        data[key] = value
    return data  # type: ignore[no-any-return]
