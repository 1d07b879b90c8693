"""A long-lived front end keeps the Temporal registry (apps.temporal_sessions.Registry) instead of
finding and reading it per request: it still sees every session registered after it started."""

from __future__ import annotations

from pathlib import Path

from apps.settings import PathSettings, Settings
from apps.temporal_sessions import Registry, TemporalRef, held, remember


def test_a_kept_registry_sees_each_session_registered_after_it_was_made(tmp_path: Path) -> None:
    settings = Settings(paths=PathSettings(state_dir=str(tmp_path / "state")))
    registry = Registry.of(settings)
    assert held(settings, None, registry=registry) is None  # no registry file yet

    first = TemporalRef("s1-aaaa", "127.0.0.1:7233", "orch", "2026-11-23T08:00:00+00:00")
    remember(settings, first)
    assert held(settings, None, registry=registry) == first
    assert held(settings, "s1", registry=registry) == first

    second = TemporalRef("s2-bbbb", "127.0.0.1:7233", "orch", "2026-11-23T09:00:00+00:00")
    remember(settings, second)
    for session in (None, "s2", "s1-aaaa", "s3"):
        assert held(settings, session, registry=registry) == held(settings, session)
    assert held(settings, None, registry=registry) == second

    (tmp_path / "state" / "temporal-sessions.json").unlink()
    assert held(settings, "s1", registry=registry) is None
