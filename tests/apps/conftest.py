import pytest


@pytest.fixture(autouse=True)
def _isolated(in_a_temporary_home: object) -> None:
    """Every test here runs in its own folder and home (see tests/conftest.py)."""
