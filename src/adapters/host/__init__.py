"""Probes of this machine for `orch doctor`: commands, folders, ports, the clock."""

from adapters.host.probes import (
    command_version,
    filesystem_type,
    ntp_synchronised,
    port_problem,
    time_zone_name,
    unreachable,
    writable_problem,
)

__all__ = [
    "command_version",
    "filesystem_type",
    "ntp_synchronised",
    "port_problem",
    "time_zone_name",
    "unreachable",
    "writable_problem",
]
