"""Chain: the standby daemon imported the restore point's chain snapshot and caught up with the network."""

import pytest

from spdrill.assertions import stage_ok
from spdrill.drill import Drill


@pytest.mark.readiness
def test_chain_snapshot_imported(drill: Drill) -> None:
    """The chain snapshot of the restore point imports into the standby daemon."""
    stage_ok(drill, "import-chain", advice="Check the snapshot file (spdrill snapshots --plan FILE) and the "
             "daemon log in the drill's reports.")


@pytest.mark.readiness
def test_daemon_synced(drill: Drill) -> None:
    """The standby daemon is synced as `lotus sync wait` decides (head within one block delay of now)."""
    stage_ok(drill, "sync", advice="A stale chain snapshot or a daemon without peers cannot catch up: take "
             "fresher chain snapshots, check the daemon's network, or raise [standby.timeouts] sync.")
