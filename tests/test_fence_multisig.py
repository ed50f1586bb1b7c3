"""The fence with a multisig owner: StateAccountKey fails for it, so each signer's key is checked instead.

Lotus supports multisig owners (cmd/lotus-shed/miner-multisig.go:25-26). StateAccountKey
(node/impl/full/state.go:510-517 → chain/stmgr/stmgr.go:305) resolves account actors only: for any other actor
chain/vm/vm.go:69-72 wraps account.Load's error (chain/actors/builtin/account/account.go:29-31), so the
JSON-RPC error message reads "failed to get account actor state for f01001: actor code is not account:
multisig". StateReadState (node/impl/full/state.go:519-545) dumps the actor's state; a multisig's is
go-state-types multisig.State with Signers and NumApprovalsThreshold (chain/actors/builtin/multisig/v19.go:37-39).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from spdrill import failover, fence
from spdrill.bringup.apis import key_holder
from spdrill.errors import SafetyError
from spdrill.lotus import ApiInfo, FullNodeClient

OWNER, WORKER, CONTROL = "f01001", "f01002", "f01003"
SIGNERS = {"f01010": "f3signera", "f01011": "f1signerb", "f01012": "f3signerc"}
KEYS = {WORKER: "f3worker", CONTROL: "f1control", **SIGNERS}
CID = {"/": "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"}


def _not_account(addr: str, name: str) -> str:
    return f"failed to get account actor state for {addr}: actor code is not account: {name}"


class FakeChain:
    """Answers StateAccountKey and StateReadState as a Lotus daemon would for these actors."""

    def __init__(self, states: dict[str, dict[str, Any]]) -> None:
        self.states = states
        self.calls: list[tuple[str, list[Any]]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        method, params = body["method"].removeprefix("Filecoin."), body["params"]
        self.calls.append((method, params))
        addr = params[0]
        if method == "StateAccountKey" and addr in KEYS:
            return self._result(body, KEYS[addr])
        if method == "StateAccountKey" and addr in self.states:
            name = "multisig" if "Signers" in self.states[addr] else "storagepower"
            return self._error(body, _not_account(addr, name))
        if method == "StateReadState" and addr in self.states:
            return self._result(body, {"Balance": "0", "Code": CID, "State": self.states[addr]})
        return self._error(body, f"resolution lookup failed ({addr}): actor not found")

    @staticmethod
    def _result(body: Any, result: Any) -> httpx.Response:
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})

    @staticmethod
    def _error(body: Any, message: str) -> httpx.Response:
        err = {"code": 1, "message": message}
        return httpx.Response(500, json={"jsonrpc": "2.0", "id": body["id"], "error": err})

    def client(self) -> FullNodeClient:
        info = ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http")
        return FullNodeClient(info, transport=httpx.MockTransport(self.handler))


MSIG_STATE = {"Signers": list(SIGNERS), "NumApprovalsThreshold": 2, "NextTxnID": 0, "InitialBalance": "0",
              "StartEpoch": 0, "UnlockDuration": 0, "PendingTxns": CID}


def test_multisig_owner_resolves_to_its_signers_keys() -> None:
    chain = FakeChain({OWNER: MSIG_STATE})
    client = chain.client()
    holder = key_holder(client, OWNER)
    assert holder == fence.KeyHolder(OWNER, tuple(SIGNERS.values()), 2)
    assert holder.describe("owner") == "owner f01001 is a multisig (2 of 3); its 3 signers checked"
    assert key_holder(client, WORKER) == fence.KeyHolder.account(WORKER, "f3worker")
    assert [m for m, _ in chain.calls].count("StateReadState") == 1


def test_fence_report_names_the_multisig_and_passes_without_its_keys() -> None:
    client = FakeChain({OWNER: MSIG_STATE}).client()
    owner, worker, control = (key_holder(client, a) for a in (OWNER, WORKER, CONTROL))
    checked, size = fence.verify_wallet_fence(["f1unrelated"], owner, worker, [control])
    assert checked == ("f3signera", "f1signerb", "f3signerc", "f3worker", "f1control") and size == 1
    report = fence.FenceReport(checked, size, "config: ok", (owner.describe("owner") or "",))
    assert report.summary() == ("verified: none of 5 owner/worker/control addresses in the standby wallet (1 keys); "
                                "owner f01001 is a multisig (2 of 3); its 3 signers checked; config: ok")


def test_fence_refuses_a_wallet_holding_one_signer_key() -> None:
    client = FakeChain({OWNER: MSIG_STATE}).client()
    owner, worker = key_holder(client, OWNER), key_holder(client, WORKER)
    with pytest.raises(SafetyError, match=r"holds a signer key of the owner multisig f01001 \(f1signerb\)"):
        fence.verify_wallet_fence(["t1signerb"], owner, worker, [])
    with pytest.raises(SafetyError, match=r"signer key \(f3signerc\) of the owner multisig f01001"):
        failover.verify_wallet(["f3worker", "f3signerc"], owner, "f3worker", [])
    summary = failover.verify_wallet(["f3worker"], owner, "f3worker", [])
    assert "owner key absent (owner f01001 is a multisig (2 of 3); its 3 signers checked)" in summary


def test_multisig_control_address_is_checked_too() -> None:
    client = FakeChain({"f01004": {**MSIG_STATE, "NumApprovalsThreshold": 1}}).client()
    holder = key_holder(client, "f01004")
    assert holder.describe("control") == "control f01004 is a multisig (1 of 3); its 3 signers checked"
    with pytest.raises(SafetyError, match=r"signer key of the control multisig f01004 \(f3signera\)"):
        fence.verify_wallet_fence(["f3signera"], "f3owner", "f3worker", [holder])


def test_an_actor_that_is_neither_account_nor_multisig_is_a_clear_error() -> None:
    client = FakeChain({OWNER: {"TotalRawBytePower": "0"}}).client()
    with pytest.raises(SafetyError) as exc:
        key_holder(client, OWNER)
    msg = str(exc.value)
    assert "f01001 is neither an account nor a multisig" in msg and "actor code is not account: storagepower" in msg
    assert "lotus-miner was not started" in msg


def test_a_signer_without_a_key_is_a_clear_error() -> None:
    client = FakeChain({OWNER: {**MSIG_STATE, "Signers": ["f01010", "f09999"]}}).client()
    with pytest.raises(SafetyError, match=r"signer f09999 of the multisig f01001 has no key address"):
        key_holder(client, OWNER)


def test_key_addresses_need_no_lookup() -> None:
    chain = FakeChain({})
    assert key_holder(chain.client(), "f3already") == fence.KeyHolder.account("f3already")
    assert chain.calls == []


def test_state_read_state_and_get_actor_shapes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        result = {"StateGetActor": {"Code": CID, "Head": CID, "Nonce": 3, "Balance": "1000",
                                    "DelegatedAddress": None},
                  "StateReadState": {"Balance": "7", "Code": CID, "State": MSIG_STATE}}[
            body["method"].removeprefix("Filecoin.")]
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})

    client = FullNodeClient(ApiInfo.parse("/ip4/127.0.0.1/tcp/1234/http"), transport=httpx.MockTransport(handler))
    actor = client.state_get_actor(OWNER)
    assert (actor.code, actor.nonce, actor.balance, actor.delegated_address) == (CID["/"], 3, 1000, None)
    state = client.state_read_state(OWNER)
    assert state.balance == 7 and state.state["NumApprovalsThreshold"] == 2
    msig = client.multisig(OWNER)
    assert msig is not None and (msig.signers, msig.threshold) == (tuple(SIGNERS), 2)
