"""Failover mode: the one mode that runs `lotus-miner init restore`, which pushes an on-chain ChangePeerID.

A drill must never change the live actor (DESIGN safety rule 3, lotus #7014), so failover is asked for on the
command line only (`spdrill run --failover --confirm-failover <ACTOR>`), never by a plan file: a scheduled drill
can never turn into a failover. In failover mode the standby's miner repo is made by `init restore` from the
restore point's metadata backup, its daemon wallet must hold the worker key (init restore signs with it), and it
still runs with DisableWinningPoSt = true: it proves WindowPoSt but mines no blocks until an operator who knows
the primary is gone for good turns block production on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spdrill.errors import DrillError, InputError, SafetyError, UsageError
from spdrill.fence import KeyHolder
from spdrill.lotus.address import normalize, normalized_set, same_address

if TYPE_CHECKING:
    from spdrill.bringup.graph import Graph

CHANGE_PEER_ID = 23  # the miner actor's ChangePeerID method number (builtin-actors miner Method::ChangePeerID)
MODE_FACT = "mode"
CID_FACT = "failover_change_peer_id_cid"
NEXT_STEP_FACT = "failover_next_step"
NEW_REPO = "lotus-miner-failover"  # in the drill folder, so teardown removes it (also half-initialised)
NEXT_STEP = ("the standby proves WindowPoSt but does not mine blocks: once the primary is gone for good "
             "(powered off, its lotus-miner never to start again), set [Subsystems] DisableWinningPoSt = false "
             "in the standby's lotus-miner config.toml and restart lotus-miner")
_CID = re.compile(r"(?:Message CID|Waiting for message)\W*\s*(b[a-z2-7]{20,})")


@dataclass(frozen=True)
class FailoverMode:
    """A failover the operator asked for and confirmed by typing the actor again."""

    actor: str
    nosync: bool = False  # `init restore --nosync`: only when the plan's [failover] nosync says so


def on_chain_effects(actor: str) -> str:
    """What a failover does on chain, said before anything runs (the operator confirms after reading it)."""
    return (f"--failover runs `lotus-miner init restore` for the live actor {actor}: it pushes an on-chain "
            "ChangePeerID message signed by the worker address from the standby's wallet, re-pointing the actor's "
            "PeerId to the standby (lotus issue #7014; it cannot be skipped). Stop the live lotus-miner first: two "
            "miners for one actor fight over the PeerId and, if both mine, commit a consensus fault. "
            f"To go ahead, type the actor again: --failover --confirm-failover {actor}")


def request(*, failover: bool, confirm: str | None, actor: str, candidate: str | None = None,
            target: str | None = None, nosync: bool = False) -> FailoverMode | None:
    """The confirmed failover, None for an ordinary drill; UsageError (exit 2) for any ambiguous request."""
    if not failover:
        if confirm is not None:
            raise UsageError(f"--confirm-failover {confirm} given without --failover; an ordinary drill never runs "
                             "`lotus-miner init restore`. Add --failover to fail over, or drop --confirm-failover")
        return None
    if candidate is not None:
        raise UsageError("--failover cannot be combined with --candidate: pre-change validation is a drill, "
                         "a failover moves the live actor; run them separately")
    if target == "attach":
        raise UsageError("--failover needs a target that brings the standby up (local, docker or ssh); the attach "
                         "target only checks a standby that is already running")
    if confirm is None:
        raise UsageError(f"--failover needs --confirm-failover {actor}. {on_chain_effects(actor)}")
    if not same_address(confirm, actor):
        raise UsageError(f"--confirm-failover {confirm!r} does not match the plan's [drill] actor {actor}; nothing "
                         f"was run. {on_chain_effects(actor)}")
    return FailoverMode(actor=actor, nosync=nosync)


def failover_graph(graph: Graph, nosync: bool) -> Graph:
    """The stage graph with init-restore before start-miner; the worker waits for the new repo's token."""
    from spdrill.bringup.graph import StageSpec

    init = StageSpec("miner", ("fence",) if nosync else ("fence", "sync"))
    out = graph.replace("init-restore", init, before="start-miner")
    out = out.replace("start-miner", out["start-miner"]._replace(after=("init-restore",)))
    # its MINER_API_INFO token exists once the new repo's miner started
    return out.replace("start-worker", out["start-worker"]._replace(after=("start-miner",)))


def verify_wallet(wallet: Iterable[str], owner: str | KeyHolder, worker: str, control: Iterable[str]) -> str:
    """The inverted wallet fence: the worker key must be there (init restore signs with it), the owner's never
    (nor, for a multisig owner, any of its signers' keys)."""
    keys = list(wallet)
    held = normalized_set(keys)  # f and t prefixes name the same key
    holder = owner if isinstance(owner, KeyHolder) else KeyHolder.account(owner)
    signer = next((k for k in holder.keys if holder.threshold is not None and normalize(k) in held), None)
    if signer is not None:
        raise SafetyError(f"fence: the standby daemon's wallet holds a signer key ({signer}) of the owner multisig "
                          f"{holder.address}; a failover never needs it. Remove it from the standby's keystore and "
                          "re-run; lotus-miner init restore was not run")
    if holder.threshold is None and normalize(holder.keys[0]) in held:
        owner = holder.keys[0]
        raise SafetyError(f"fence: the standby daemon's wallet holds the owner key of the miner ({owner}); a "
                          "failover never needs it (only the worker signs ChangePeerID and WindowPoSt). Remove it "
                          "from the standby's keystore and re-run; lotus-miner init restore was not run")
    if normalize(worker) not in held:
        raise SafetyError(f"fence: the standby daemon's wallet lacks the worker key of the miner ({worker}); "
                          "`lotus-miner init restore` signs ChangePeerID with it and fails after half-initialising "
                          "the repo. Import the worker key into the standby wallet (`lotus wallet import`) and "
                          "re-run; lotus-miner init restore was not run")
    controls = [a for a in control if normalize(a) in held]
    extra = f", {len(controls)} control key(s) present" if controls else ""
    owner_line = holder.describe("owner")
    absent = f"owner key absent ({owner_line})" if owner_line else "owner key absent"
    return f"failover fence: worker key {worker} in the standby wallet, {absent}{extra} ({len(keys)} keys)"


def init_restore_argv(backup: str, *, config: str | None, storage_config: str | None, nosync: bool) -> list[str]:
    """`lotus-miner init restore` with the restored config and storage paths (lotus #9681: pass both)."""
    argv = ["lotus-miner", "init", "restore"]
    if nosync:
        argv.append("--nosync")
    if config is not None:
        argv += ["--config", config]
    if storage_config is not None:
        argv += ["--storage-config", storage_config]
    return [*argv, backup]


def message_cid(output: str) -> str | None:
    """The ChangePeerID message CID init restore printed (`Message CID: …` / `Waiting for message: …`)."""
    m = _CID.search(output)
    return m.group(1) if m else None


def check_backup_actor(backup: Path, actor: str) -> None:
    """Refuse a metadata backup of another actor than the confirmed one (read locally, before anything runs)."""
    from spdrill.lotus.backup import check_backup

    chk = check_backup(backup)
    if not chk.ok or chk.info is None:
        raise InputError(f"failover: the metadata backup {backup} is not usable: {chk.reason}; "
                         "lotus-miner init restore was not run")
    # The backup holds raw address bytes, rendered here with `f`; a calibnet or devnet plan may say `t0…`.
    if chk.info.miner_address is not None and not same_address(chk.info.miner_address, actor):
        raise InputError(f"failover: the metadata backup {backup.name} is of miner {chk.info.miner_address}, not "
                         f"the confirmed actor {actor}; lotus-miner init restore was not run")


def outcome(returncode: int, output: str, repo: str, tail: str) -> str:
    """The CID of a successful init restore; a DrillError naming the half-initialised repo otherwise."""
    if returncode != 0:
        raise DrillError(f"lotus-miner init restore failed (exit {returncode}): {tail}. It leaves a "
                         f"half-initialised miner repo at {repo} (Lotus initialises the repo before it checks the "
                         "backup's actor and the worker key); the drill's teardown removes it, but a retry by hand "
                         "needs that folder deleted first")
    cid = message_cid(output)
    if cid is None:
        raise DrillError(f"lotus-miner init restore exited 0 but printed no ChangePeerID message CID: {tail}; "
                         "look the message up with `lotus mpool pending --local` or on a chain explorer")
    return cid


__all__ = ["CHANGE_PEER_ID", "CID_FACT", "FailoverMode", "MODE_FACT", "NEW_REPO", "NEXT_STEP", "NEXT_STEP_FACT",
           "check_backup_actor", "failover_graph", "init_restore_argv", "message_cid", "on_chain_effects",
           "outcome", "request", "verify_wallet"]
