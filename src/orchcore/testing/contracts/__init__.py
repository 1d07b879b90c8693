"""One contract suite per port: subclass ``<Port>Contract`` and override its ``make_<port>`` fixture."""

from __future__ import annotations

from orchcore.testing.contracts.store import StoreContract, StoreFactory, StoreModelMachine

ALL_CONTRACTS = (StoreContract,)

__all__ = ["ALL_CONTRACTS", "StoreContract", "StoreFactory", "StoreModelMachine"]
