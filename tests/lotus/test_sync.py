"""Sync rules: the same verdicts as `lotus sync wait` (IsSyncDone) and NodeStatus.Behind."""

from __future__ import annotations

import pytest

from spdrill.errors import UsageError
from spdrill.lotus.sync import epochs_behind, is_sync_done, node_status_behind, working_sync
from spdrill.lotus.types import ActiveSync, BlockHeader, SyncState, TipSet

GENESIS = 1598306400


def tipset(*timestamps: int, height: int = 100) -> TipSet:
    blocks = tuple(BlockHeader(f"f0{i}", height, t, (), 0) for i, t in enumerate(timestamps))
    return TipSet(tuple(f"bafy{i}" for i in range(len(blocks))), height, blocks)


def test_synced_strictly_within_one_block_delay() -> None:
    head = tipset(GENESIS + 3000)
    assert is_sync_done(head, now=GENESIS + 3000)
    assert is_sync_done(head, now=GENESIS + 3029)
    assert not is_sync_done(head, now=GENESIS + 3030)  # Lotus: now - min < BlockDelay, strict
    assert not is_sync_done(head, now=GENESIS + 9000)


def test_min_timestamp_decides_not_the_latest_block() -> None:
    head = tipset(GENESIS + 3029, GENESIS + 3000)
    assert not is_sync_done(head, now=GENESIS + 3030)


def test_devnet_block_delay() -> None:
    head = tipset(1000)
    assert is_sync_done(head, now=1003, block_delay=4)
    assert not is_sync_done(head, now=1004, block_delay=4)
    assert epochs_behind(head, now=1041, block_delay=4) == 10


def test_epochs_behind() -> None:
    head = tipset(GENESIS)
    assert epochs_behind(head, now=GENESIS + 29) == 0
    assert epochs_behind(head, now=GENESIS + 30 * 2880) == 2880
    assert epochs_behind(head, now=GENESIS - 100) == 0  # a head from the future is not "behind"


def test_node_status_behind_hard_codes_30_seconds() -> None:
    head = tipset(1000)
    assert node_status_behind(head, now=1000 + 4 * 30) == 4
    assert node_status_behind(head, now=1000 + 119) == 3
    assert node_status_behind(head, now=900) == 0


@pytest.mark.parametrize("delay", [0, -30])
def test_bad_block_delay(delay: int) -> None:
    with pytest.raises(UsageError, match="block_delay"):
        is_sync_done(tipset(0), now=0, block_delay=delay)


def sync(stage: int) -> ActiveSync:
    return ActiveSync(
        worker_id=stage, stage=stage, height=1, base_height=None, target_height=None, message=""
    )


def test_working_sync_follows_sync_wait() -> None:
    assert working_sync(SyncState((), 0)) is None  # no workers: sync wait never reports done
    assert working_sync(SyncState((sync(4), sync(1), sync(3)), 0)) == 1
    assert working_sync(SyncState((sync(4), sync(0)), 0)) == 1  # all idle/complete: the last one
    assert sync(5).stage_name == "error" and sync(9).stage_name == "<unknown: 9>"
