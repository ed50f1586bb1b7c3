"""When is a Lotus node synced? The same answers as ``lotus sync wait`` and ``NodeStatus``, as pure functions.

``lotus sync wait`` (``cli/sync.go`` ``IsSyncDone``) calls a node synced when its head is younger than
one block delay: ``now - head.MinTimestamp() < BlockDelaySecs``. ``NodeStatus.SyncStatus.Behind`` is
``(now - head.MinTimestamp()) / 30`` with the 30 hard-coded (``node/impl/full.go``). All functions take
``now`` (unix seconds) explicitly, so tests and drills control the clock.
"""

from __future__ import annotations

from spdrill.errors import UsageError
from spdrill.lotus.types import SyncState, TipSet

__all__ = [
    "DEFAULT_BLOCK_DELAY",
    "NODE_STATUS_BLOCK_DELAY",
    "epochs_behind",
    "is_sync_done",
    "node_status_behind",
    "working_sync",
]

DEFAULT_BLOCK_DELAY = 30  # mainnet/calibnet BlockDelaySecs; a 2k devnet uses 4 (take it from Version)
NODE_STATUS_BLOCK_DELAY = 30  # Lotus hard-codes 30 in NodeStatus.Behind, whatever the network


def _delay(block_delay: int) -> int:
    if type(block_delay) is not int or block_delay <= 0:
        raise UsageError(f"block_delay must be a positive number of seconds, got {block_delay!r}")
    return block_delay


def is_sync_done(head: TipSet, now: int | float, block_delay: int = DEFAULT_BLOCK_DELAY) -> bool:
    """True when ``lotus sync wait`` would stop: the head is less than one block delay old."""
    return int(now) - head.min_timestamp < _delay(block_delay)


def epochs_behind(head: TipSet, now: int | float, block_delay: int = DEFAULT_BLOCK_DELAY) -> int:
    """Whole epochs between the head's time and ``now`` (0 when the head is current or in the future)."""
    return max(0, (int(now) - head.min_timestamp) // _delay(block_delay))


def node_status_behind(head: TipSet, now: int | float) -> int:
    """``NodeStatus.SyncStatus.Behind`` as Lotus computes it (30 s epochs, even on a devnet)."""
    # Go converts a negative int64 to uint64, wrapping; a head from the future reads as 0 here instead.
    return max(0, (int(now) - head.min_timestamp) // NODE_STATUS_BLOCK_DELAY)


def working_sync(state: SyncState) -> int | None:
    """Index of the sync worker ``lotus sync wait`` prints: first not complete/idle, else the last."""
    if not state.active_syncs:
        return None  # sync wait never reports done while there is no sync worker at all
    for i, s in enumerate(state.active_syncs):
        if s.stage not in (0, 4):
            return i
    return len(state.active_syncs) - 1
