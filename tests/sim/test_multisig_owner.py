"""A miner whose owner is a multisig: StateAccountKey fails on it, StateReadState shows its signers.

Models lotus node/impl/full/state.go:510-517 -> chain/stmgr/stmgr.go:305-343 -> chain/vm/vm.go:53-75
(`failed to get account actor state for %s: %w` around account.Load's `actor code is not account: multisig`,
chain/actors/builtin/account/account.go:27-31), and StateReadState (state.go:517-541: {Balance, Code,
State}) with go-state-types builtin/v17/multisig/multisig_state.go State (Signers are ID addresses).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lotus_sim.actors import MULTISIG_CODE
from lotus_sim.fixture import parse_multisig
from lotus_sim.rpcclient import CallError
from lotus_sim.world import World
from tests.sim.simproc import Stand, make_stand


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    s = make_stand(tmp_path, sectors=4, deadlines=1, owner_multisig="2-of-3")
    assert s.import_snapshot().returncode == 0
    s.start_daemon()
    try:
        yield s
    finally:
        s.stop_all()


def test_parse_multisig() -> None:
    assert parse_multisig("2-of-3") == (2, 3)
    for bad in ("3-of-2", "0-of-1", "two-of-three", "2of3"):
        with pytest.raises(ValueError):
            parse_multisig(bad)


def test_fixture_records_the_multisig_and_its_signer_keys(stand: Stand) -> None:
    msig = stand.info["owner_multisig"]
    assert msig["threshold"] == 2 and len(msig["signers"]) == 3
    assert stand.info["owner"] == {"id": msig["id"], "key": msig["id"], "type": "multisig"}
    for signer in msig["signers"]:
        assert (stand.root / stand.info["secrets"][signer["key"]]).is_file()
    world = World.from_car(stand.snapshot)
    assert world.owner_multisig is not None and world.owner_multisig.threshold == 2


def test_state_account_key_fails_for_the_multisig_owner(stand: Stand) -> None:
    daemon = stand.daemon()
    owner = daemon.call("StateMinerInfo", stand.info["miner"], [])["Owner"]
    assert owner == stand.info["owner_multisig"]["id"]
    with pytest.raises(CallError) as err:
        daemon.call("StateAccountKey", owner, [])
    assert f"failed to get account actor state for {owner}: actor code is not account: multisig" in str(err.value)
    worker = stand.info["worker"]
    assert daemon.call("StateAccountKey", worker["id"], []) == worker["key"]


def test_state_read_state_shows_signers_and_threshold(stand: Stand) -> None:
    daemon = stand.daemon()
    msig = stand.info["owner_multisig"]
    out = daemon.call("StateReadState", msig["id"], [])
    assert set(out) == {"Balance", "Code", "State"}
    assert out["Code"] == {"/": MULTISIG_CODE["mainnet"]}
    assert out["State"]["Signers"] == [s["id"] for s in msig["signers"]]
    assert out["State"]["NumApprovalsThreshold"] == 2
    assert set(out["State"]) == {"Signers", "NumApprovalsThreshold", "NextTxnID", "InitialBalance", "StartEpoch",
                                 "UnlockDuration", "PendingTxns"}
    for signer in msig["signers"]:  # each signer is an account whose key StateAccountKey gives
        assert daemon.call("StateAccountKey", signer["id"], []) == signer["key"]
        assert daemon.call("StateReadState", signer["id"], [])["State"] == {"Address": signer["key"]}
    with pytest.raises(CallError, match="actor not found"):
        daemon.call("StateReadState", "f09999", [])


def test_make_fixture_flag(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "lotus_sim.cli", "make-fixture", str(tmp_path / "fx"),
                             "--sectors", "2", "--deadlines", "1", "--owner-multisig", "1-of-2",
                             "--fault", "keys-in-wallet"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    bad = subprocess.run([sys.executable, "-m", "lotus_sim.cli", "make-fixture", str(tmp_path / "fx2"),
                          "--owner-multisig", "3-of-2"], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "--owner-multisig" in bad.stderr


def test_default_fixture_is_unchanged_by_the_feature(tmp_path: Path) -> None:
    from lotus_sim.fixture import FixtureSpec, make_fixture

    a = make_fixture(tmp_path / "a", FixtureSpec(sectors=2, deadlines=1, now=1_764_000_000.0))
    assert "owner_multisig" not in a and a["owner"]["type"] == "bls"  # type: ignore[index]
