"""Failover mode only (`spdrill run --failover`): the miner repo came from `lotus-miner init restore`.

Deselected in ordinary drills, which never run init restore (DESIGN safety rule 3).
"""

import pytest

from spdrill.assertions import stage_ok
from spdrill.drill import Drill
from spdrill.findings import InitRestoreFinding


@pytest.mark.failover
@pytest.mark.readiness
def test_miner_repo_made_by_init_restore(drill: Drill) -> None:
    """Failover: lotus-miner init restore made the miner repo and pushed ChangePeerID (its CID is recorded)."""
    stage_ok(drill, "init-restore", advice="The standby's lotus-miner was not started. Check that the "
                      "worker key is in the standby wallet and the restore point holds a valid metadata backup.")
    found = drill.finding("init-restore", InitRestoreFinding)
    assert found is not None and found.change_peer_id_cid, "init-restore: no ChangePeerID message CID was recorded"
