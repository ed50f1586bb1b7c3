"""Non-miner actors of the simulated chain as the state API shows them: accounts and a multisig owner.

Models lotus node/impl/full/state.go:510-517 (StateAccountKey -> stmgr.ResolveToDeterministicAddress,
chain/stmgr/stmgr.go:305-343 -> vm.ResolveToDeterministicAddr, chain/vm/vm.go:53-75 -> account.Load,
chain/actors/builtin/account/account.go:27-31) and state.go:517-541 (StateReadState: {Balance, Code, State}).
"""

from __future__ import annotations

from typing import Any

from lotus_sim.rpc import RpcError
from lotus_sim.world import Account, Multisig, World

__all__ = ["ACCOUNT_CODE", "EMPTY_HAMT", "MULTISIG_CODE", "account_key", "accounts", "non_account_error", "read_state",
           "read_state_or_fail"]

# build/builtin_actors_gen.go (b835fab): actors v17 (network version 27) code CIDs, mainnet and calibnet.
ACCOUNT_CODE = {"mainnet": "bafk2bzaceb4as5yyhjfkvxgooum37uvm5gbjr4dtbpxmqnpvvbjfpu5qouii4",
                "calibrationnet": "bafk2bzacedfxgwdy3aoxwbwiyet5qwvfxiy5dl3gixy645dwsasm62tpzdojk"}
MULTISIG_CODE = {"mainnet": "bafk2bzaceblf5vqw4dwjueoetgawhg7t6he7qhdnfy3shf7ufnfv4mkwchgbm",
                 "calibrationnet": "bafk2bzacecmjfy72xhq726aewdcg5n2ospadxdhvisnclx43ujrg65ujrjwtq"}
EMPTY_HAMT = "bafy2bzaceamp42wmmgr2g2ymg46euououzfyck7szknvfacqscohrvaikwfay"  # PendingTxns of a fresh multisig


def _same(a: str, b: str) -> bool:
    return a.replace("t0", "f0", 1) == b.replace("t0", "f0", 1)


def accounts(world: World) -> list[Account]:
    """Every account actor the world knows: owner (unless a multisig), worker, controls, multisig signers."""
    out = [a for a in (world.owner, world.worker, *world.controls) if a.key_type != "multisig"]
    if world.owner_multisig is not None:
        out += list(world.owner_multisig.signers)
    return out


def _multisig(world: World | None, addr: str) -> Multisig | None:
    msig = world.owner_multisig if world is not None else None
    return msig if msig is not None and _same(addr, msig.id_address) else None


def non_account_error(world: World | None, addr: str) -> str | None:
    """StateAccountKey's error for an actor that is not an account (a multisig), else None.

    vm.go:69-72 wraps account.Load's `actor code is not account: multisig` (account.go:29-31) in
    `failed to get account actor state for %s`; stmgr.go:331-342 retries on the computed state and returns
    the same error.
    """
    if _multisig(world, addr) is None:
        return None
    return f"failed to get account actor state for {addr}: actor code is not account: multisig"


def read_state(world: World | None, addr: str) -> dict[str, Any] | None:
    """StateReadState of an account or the multisig owner ({Balance, Code, State}); None for other actors."""
    network = world.network_name if world is not None else "mainnet"
    msig = _multisig(world, addr)
    if msig is not None:
        # go-state-types builtin/v17/multisig/multisig_state.go State; Signers are canonical ID addresses.
        state = {"Signers": [s.id_address for s in msig.signers], "NumApprovalsThreshold": msig.threshold,
                 "NextTxnID": 0, "InitialBalance": "0", "StartEpoch": 0, "UnlockDuration": 0,
                 "PendingTxns": {"/": EMPTY_HAMT}}
        return {"Balance": "0", "Code": {"/": MULTISIG_CODE.get(network, MULTISIG_CODE["mainnet"])},
                "State": state}
    for acc in accounts(world) if world is not None else []:
        if _same(addr, acc.id_address) or addr == acc.key_address:
            return {"Balance": "0", "Code": {"/": ACCOUNT_CODE.get(network, ACCOUNT_CODE["mainnet"])},
                    "State": {"Address": acc.key_address}}
    return None


def account_key(world: World | None, addr: str) -> str | None:
    """StateAccountKey's answer for a known account (signers included), None when unknown; RpcError for a multisig."""
    failure = non_account_error(world, addr)
    if failure is not None:
        raise RpcError(failure)
    for acc in accounts(world) if world is not None else []:
        if _same(addr, acc.id_address):
            return acc.key_address
    return None


def read_state_or_fail(world: World | None, addr: str) -> dict[str, Any]:
    """Filecoin.StateReadState (state.go:517-541); the miner actor's own state is not simulated."""
    state = read_state(world, addr)
    if state is not None:
        return state
    if world is not None and _same(addr, world.miner):
        raise RpcError(f"lotus-sim: StateReadState of the miner actor {addr} is not simulated")
    raise RpcError(f"getting actor: resolution lookup failed ({addr}): actor not found")
