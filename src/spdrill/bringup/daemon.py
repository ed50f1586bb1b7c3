"""The daemon branch: import the restored chain snapshot, start the daemon, wait for sync (or attach to one)."""

from __future__ import annotations

from spdrill.bringup.apis import api_up, tail
from spdrill.bringup.context import Standby
from spdrill.bringup.probes import StandbyProbe
from spdrill.duration import format_duration
from spdrill.errors import InputError
from spdrill.findings import ChainImportFinding, RoleStarted, SyncFinding
from spdrill.journal import PhaseNote
from spdrill.waits import Stall, wait_for


def import_chain(sb: Standby, note: PhaseNote) -> ChainImportFinding:
    """`lotus daemon --import-snapshot … --halt-after-import` into the restored daemon repo."""
    parts = sb.parts_()
    if parts.chain_snapshot is None:
        raise InputError(f"no chain snapshot matching {sb.plan.restore.layout.chain_snapshot!r} in the "
                         "restore point; set [restore.layout] chain_snapshot")
    argv = ["lotus", "daemon", "--import-snapshot", sb.target.path(parts.chain_snapshot),
            "--halt-after-import", "--remove-existing-chain"]
    res = sb.target.run(argv, env=sb.env(LOTUS_PATH=sb.target.path(parts.daemon_repo)),
                        timeout=sb.plan.standby.timeouts.import_chain)
    if res.returncode != 0:
        raise InputError(f"lotus daemon --import-snapshot {parts.chain_snapshot.name} failed (exit "
                         f"{res.returncode}): {tail(res.stdout + res.stderr)}")
    return ChainImportFinding(detail=f"imported {parts.chain_snapshot.name}", snapshot=parts.chain_snapshot.name)


def start_daemon(sb: Standby, note: PhaseNote) -> RoleStarted:
    """Start `lotus daemon` on the restored repo and wait for its API."""
    parts = sb.parts_()
    port = sb.plan.standby.ports.daemon or sb.target.free_port()
    sb.ep.ports["daemon"] = port
    sb.spawn("daemon", ["lotus", "daemon", "--api", str(port), *sb.plan.standby.daemon_args],
             env=sb.env(LOTUS_PATH=sb.target.path(parts.daemon_repo)), port=port)
    sb.ep.daemon_admin, sb.ep.daemon_read, version = api_up(
        sb.target, sb.fs, sb.plan, "daemon", port, parts.daemon_repo)
    sb.journal.version("lotus", version, simulated="lotus-sim" in version)
    return RoleStarted(detail=f"daemon API up on port {port} ({version})", port=port, version=version)


def attach_daemon(sb: Standby, note: PhaseNote) -> RoleStarted:
    """The attach target: the daemon the plan points at, already running."""
    info = sb.target.api_info("daemon")
    version = sb.fullnode(info).version()
    sb.ep.daemon_admin = sb.ep.daemon_read = info
    sb.journal.version("lotus", version.version, simulated="lotus-sim" in version.agent)
    return RoleStarted(detail=f"attached to daemon {version.version}", version=version.version)


def sync(sb: Standby, note: PhaseNote) -> SyncFinding:
    """Wait until the daemon is synced as `lotus sync wait` decides."""
    probe = StandbyProbe(sb.target, "daemon")
    client = sb.fullnode(sb.ep.daemon_read)
    stall = Stall(sb.plan.standby.timeouts.stall)

    def synced() -> tuple[bool, str]:
        ready, seen = probe.synced(client, note, sb.journal.clock.wall())
        head = note.finding
        if not ready and isinstance(head, SyncFinding) and head.height is not None:
            stall.observe(head.height, lambda secs: stuck_head(head, secs))
        return ready, seen

    seen = wait_for(synced, what="chain sync", deadline=sb.plan.standby.timeouts.sync)
    last = note.finding if isinstance(note.finding, SyncFinding) else SyncFinding()
    return SyncFinding(detail=seen, height=last.height, epochs_behind=last.epochs_behind,
                       block_delay=last.block_delay)


def stuck_head(head: SyncFinding, seconds: float) -> str:
    """What a daemon whose head stopped moving looks like, and what usually stops it."""
    return (f"chain sync: head stuck at height {head.height:,} for {format_duration(seconds)}, "
            f"{head.epochs_behind or 0:,} epochs behind: the daemon is not getting blocks (no peers? bootstrap "
            "off? check `lotus net peers` and `lotus sync status` on the standby); raise [standby.timeouts] stall "
            "if it is only slow")
