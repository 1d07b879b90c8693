"""`agent.executor` with `kind: docker`: safe defaults, and every wrong field named at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.docker.config import DockerConfig, docker_config
from orchcore.errors import ConfigError


def test_the_defaults_are_no_network_a_pids_limit_and_the_local_daemon() -> None:
    config = docker_config({"kind": "docker", "image": "my-agent:1"})
    assert config == DockerConfig(image="my-agent:1")
    assert config.network == "none"
    assert config.pids_limit == 512
    assert config.host == "unix:///var/run/docker.sock"


def test_limits_and_network_are_read_as_configured() -> None:
    config = docker_config(
        {
            "kind": "docker",
            "image": "a:1",
            "network": "host",
            "memory": "512m",
            "cpus": 1.5,
            "user": "1000:1000",
        }
    )
    assert (config.network, config.memory, config.cpus, config.user) == ("host", "512m", 1.5, "1000:1000")


def test_every_wrong_field_is_named_at_once_with_what_was_expected() -> None:
    with pytest.raises(ConfigError) as caught:
        docker_config({"kind": "docker", "memory": "lots", "cpus": -1, "user": "bob", "imgae": "x"})
    message = str(caught.value)
    for expected in (
        "agent.executor.image: expected the name of a local image",
        "agent.executor.memory: expected a size such as 512m or 2g, got 'lots'",
        "agent.executor.cpus: expected a positive number of CPUs such as 1.5, got -1",
        "agent.executor.user: expected uid or uid:gid in numbers",
        "agent.executor.imgae: unknown field",
    ):
        assert expected in message


@given(
    st.dictionaries(
        st.sampled_from(
            ["kind", "image", "host", "network", "memory", "cpus", "pids_limit", "user", "home", "x"]
        ),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12)),
    )
)
def test_any_section_gives_a_config_or_a_config_error_never_a_crash(section: dict[str, object]) -> None:
    problem = ""
    try:
        config = docker_config(section)
    except ConfigError as exc:
        problem = str(exc)
    if problem:
        assert problem.startswith("agent.executor.")
    else:
        assert config.image
        assert config.pids_limit > 0
        assert config.cpus is None or 0 < config.cpus < float("inf")


@pytest.mark.parametrize("cpus", [float("nan"), float("inf"), 0, True])
def test_cpus_that_are_no_count_of_cpus_are_refused(cpus: object) -> None:
    with pytest.raises(ConfigError, match=r"agent\.executor\.cpus"):
        docker_config({"image": "a:1", "cpus": cpus})
