"""The real Docker daemon and test image the Docker executor's tests run against."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.docker.daemon import Dockerd, build_test_image, running_dockerd


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    """A private dockerd for the whole test session (skips, saying why, when none can start)."""
    with running_dockerd() as daemon:
        yield daemon


@pytest.fixture(scope="session")
def busybox_image(dockerd: Dockerd) -> str:
    """The test image (FROM scratch + busybox-static), built once on the private daemon."""
    return build_test_image(dockerd.base_url)
