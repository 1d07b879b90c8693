"""The real Docker daemon and test image the Docker executor's tests run against."""

from __future__ import annotations

import pytest

from tests.integration.docker.daemon import Dockerd, shared_dockerd, shared_git_image, shared_test_image


@pytest.fixture(scope="session")
def dockerd() -> Dockerd:
    """A private dockerd for the whole test session (skips, saying why, when none can start)."""
    return shared_dockerd()


@pytest.fixture(scope="session")
def busybox_image(dockerd: Dockerd) -> str:
    """The test image (FROM scratch + busybox-static), built once on the private daemon."""
    return shared_test_image()


@pytest.fixture(scope="session")
def git_image(dockerd: Dockerd) -> str:
    """The test image with the host's git (and the libraries it loads) added."""
    return shared_git_image()
