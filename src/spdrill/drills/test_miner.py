"""Miner: the restored lotus-miner is the plan's actor, has its storage, and has a WindowPoSt worker."""

import pytest

from spdrill.assertions import stage_ok
from spdrill.drill import Drill
from spdrill.findings import MinerFinding
from spdrill.lotus.address import same_address


@pytest.mark.readiness
def test_miner_identity(drill: Drill) -> None:
    """The restored lotus-miner runs as the plan's miner actor."""
    stage_ok(drill, "start-miner", advice="See the miner log in the drill's reports.")
    found = drill.finding("start-miner", MinerFinding)
    actor = found.actor if found is not None else None
    assert actor is not None and same_address(actor, drill.plan.actor), (
        f"the restored lotus-miner is {actor}, the plan expects {drill.plan.actor}: the restore point holds "
        "another miner's repo, or the plan names the wrong actor")


@pytest.mark.readiness
def test_storage_attached(drill: Drill) -> None:
    """Every storage path of the restored miner is attached."""
    stage_ok(drill, "storage", advice="Restore the storage paths with the miner repo (storage.json and each "
             "path's sectorstore.json).")


@pytest.mark.readiness
def test_windowpost_worker_connected(drill: Drill) -> None:
    """A WindowPoSt worker is connected to the restored lotus-miner."""
    stage_ok(drill, "worker-connected", advice="Check the worker log: it needs MINER_API_INFO and must reach "
             "the miner.")
