"""The real Docker daemon and test image the Docker executor's tests run against."""

from __future__ import annotations

import pytest

from tests.integration.docker.daemon import Dockerd, shared_dockerd, shared_test_image


@pytest.fixture(scope="session")
def dockerd() -> Dockerd:
    """A private dockerd for the whole test session (skips, saying why, when none can start)."""
    return shared_dockerd()


@pytest.fixture(scope="session")
def busybox_image(dockerd: Dockerd) -> str:
    """The test image (FROM scratch + busybox-static), built once on the private daemon."""
    return shared_test_image()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`image` tests build the whole container image (minutes): only when asked for, with -m image."""
    if "image" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="opt-in: builds orch's container image (minutes); run with -m image")
    for item in items:
        if "image" in item.keywords:
            item.add_marker(skip)
