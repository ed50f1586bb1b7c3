"""The lotus-miner metadata backup of the restore point: the file a failover would `init restore` from."""

import pytest

from spdrill.drill import Drill
from spdrill.findings import RestoreFinding


@pytest.mark.objective
def test_miner_backup_valid(drill: Drill) -> None:
    """The newest lotus-miner metadata backup is valid: CBOR layout, SHA-256 trailer, no trailing bytes."""
    result = drill.stage("restore")
    if result.not_applicable:
        pytest.skip(f"restore: {result.detail}")
    pattern = drill.plan.restore.layout.miner_backup
    if not pattern:
        pytest.skip("[restore.layout] miner_backup = \"\": the plan drills without a metadata backup")
    found = drill.finding("restore", RestoreFinding)
    if not result.ok or found is None:
        raise AssertionError(f"restore: {result.detail}")
    if found.miner_backup is None:
        if found.miner_backup_unchecked:  # too big to copy from the standby host
            pytest.skip(found.miner_backup_unchecked)
        raise AssertionError(f"no lotus-miner backup matching {pattern!r} in the restore point: a failover has "
                             "nothing to restore the sealing state from. Keep `lotus-miner backup` files with the "
                             "restore point, or set [restore.layout] miner_backup = \"\"")
    assert found.miner_backup_ok is True, (
        f"{found.miner_backup}: {found.miner_backup_detail}. This backup cannot be "
        "restored; take a new one (lotus-miner backup, to a new file name) and find out why this one broke")
