"""Fence: the standby can never act on chain for the live miner (no keys, no block production)."""

import pytest

from spdrill.assertions import stage_ok
from spdrill.drill import Drill


@pytest.mark.readiness
def test_fence_verified(drill: Drill) -> None:
    """No owner, worker or control key in the standby wallet, and DisableWinningPoSt = true read back."""
    stage_ok(drill, "fence", advice="The drill stopped before lotus-miner started. Never restore wallet keys "
             "to a drill standby.")
