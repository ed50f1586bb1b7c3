"""Fence: the standby can never act on chain for the live miner (no keys, no block production)."""

import pytest

from spdrill.assertions import stage_ok
from spdrill.drill import Drill


@pytest.mark.readiness
def test_fence_verified(drill: Drill) -> None:
    """Fence: the standby wallet holds no key it must not, and DisableWinningPoSt = true is read back.

    A drill: no owner, worker or control key. Failover: the worker key must be there (init restore signs with
    it), the owner key still must not.
    """
    if drill.failover is not None:
        advice = ("Failover: import the worker key (never the owner key) into the standby wallet and keep "
                  "DisableWinningPoSt = true until the primary is gone for good.")
    else:
        advice = "The drill stopped before lotus-miner started. Never restore wallet keys to a drill standby."
    stage_ok(drill, "fence", advice=advice)
