"""The standby miner's own WindowPoSt scheduler: proves each deadline and pushes SubmitWindowedPoSt.

Models lotus node/builder_miner.go:99 (built unless [Subsystems] DisableWindowPoSt),
node/modules/storageminer.go:283-302 (started with the miner), storage/wdpost/wdpost_changehandler.go:16-17,
:238 (prove from Challenge+1), :466 (submit from Open+4, before Close), :490-500 (a failed submit goes back to
the start state and is retried at the next head change), wdpost_run.go:171-175, :621-648 (MpoolPushMessage,
`submit window post failed: …`), wdpost_run_faults.go:198-205 (recoveries for deadline index+2).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lotus_sim import keystore
from lotus_sim.fixture import FixtureSpec, make_fixture
from lotus_sim.rpcclient import CallError
from lotus_sim.scheduler import DECLARE_FAULTS_RECOVERED, SUBMIT_WINDOWED_POST, WindowPostScheduler
from tests.sim.simproc import Stand, make_stand

GENESIS = 1598306400


# ---- the rules, on a fake miner and full node ---------------------------------------------------------
class FakeFull:
    def __init__(self) -> None:
        self.open, self.index = 1000, 7
        self.refuse = False
        self.calls: list[dict[str, Any]] = []
        self.faulty: list[int] = []

    def call(self, method: str, *params: Any) -> Any:
        if method == "StateMinerProvingDeadline":
            return {"Open": self.open, "Close": self.open + 60, "Challenge": self.open - 20, "Index": self.index}
        if method == "StateMinerInfo":
            return {"Worker": "f01002"}
        if method == "StateMinerPartitions":
            faulty = [0, self.faulty[0], 1, 0] if self.faulty else [0]
            return [{"FaultySectors": faulty, "RecoveringSectors": [0]}]
        if method == "MpoolPushMessage":
            self.calls.append(params[0])
            if self.refuse:
                raise CallError("mpool push: failed to sign message: key info not found")
            return {"CID": {"/": f"bafy{len(self.calls)}"}}
        raise AssertionError(method)


class FakeNode:
    def __init__(self) -> None:
        self.full = FakeFull()
        self.address, self.miner_id = "f01000", 1000
        self.info = {"WindowPoStProofType": 10}
        self.proved: list[int] = []

    def compute_window_post(self, deadline: int, tsk: Any) -> list[dict[str, Any]]:
        self.proved.append(deadline)
        return [{"Deadline": deadline, "Partitions": [{"Index": 0, "Skipped": [0]}],
                 "Proofs": [{"PoStProof": 10, "ProofBytes": "AAAA"}]}]

    def check_provable(self, ppt: int, refs: list[dict[str, Any]]) -> dict[str, str]:
        return {}


def _scheduler() -> tuple[WindowPostScheduler, FakeNode]:
    node = FakeNode()
    return WindowPostScheduler(node, poll=0.01), node  # type: ignore[arg-type]


def test_proves_from_challenge_plus_one_and_submits_from_open_plus_four() -> None:
    sched, node = _scheduler()
    sched.on_head(node.full.open - 20)  # Challenge: not yet (ChallengeConfidence = 1)
    assert node.proved == []
    sched.on_head(node.full.open - 19)
    assert node.proved == [7] and node.full.calls == []
    sched.on_head(node.full.open + 3)  # proofs ready, but SubmitConfidence = 4
    assert node.full.calls == []
    sched.on_head(node.full.open + 4)
    assert [c["Method"] for c in node.full.calls] == [SUBMIT_WINDOWED_POST]
    assert node.full.calls[0]["From"] == "f01002" and node.full.calls[0]["To"] == "f01000"
    sched.on_head(node.full.open + 5)  # submitted: nothing more for this window
    assert len(node.full.calls) == 1 and node.proved == [7]


def test_a_refused_push_is_logged_and_retried_at_each_head_until_close(capsys: pytest.CaptureFixture[str]) -> None:
    sched, node = _scheduler()
    node.full.refuse = True
    for height in range(node.full.open + 4, node.full.open + 7):
        sched.on_head(height)
    assert [c["Method"] for c in node.full.calls] == [SUBMIT_WINDOWED_POST] * 3
    err = capsys.readouterr().err
    assert "submit window post failed: pushing message to mpool: mpool push: failed to sign message" in err
    assert "Aborted window post Submitting (Deadline: 7)" in err
    assert all(p["error"] for p in sched.pushes)
    sched.on_head(node.full.open + 60)  # Close: the window is gone; the next deadline's comes
    node.full.open, node.full.index = node.full.open + 60, 8
    node.full.refuse = False
    sched.on_head(node.full.open + 4)
    assert node.proved[-1] == 8 and sched.pushes[-1]["error"] is None


def test_recoveries_are_declared_for_deadline_index_plus_two() -> None:
    sched, node = _scheduler()
    node.full.faulty = [5]
    sched.on_head(node.full.open - 19)
    assert [c["Method"] for c in node.full.calls] == [DECLARE_FAULTS_RECOVERED]
    assert sched.pushes[0]["deadline"] == 9


# ---- the real programs ----------------------------------------------------------------------------------
def _stand_mid_window(tmp_path: Path, env: dict[str, str] | None = None) -> Stand:
    """A 48-deadline miner whose current deadline is about 20 epochs into its window (Open+4 passed)."""
    probe = make_fixture(tmp_path / "probe", FixtureSpec(sectors=96, deadlines=48, sector_files=False))
    height = int((time.time() - GENESIS) // 30)
    shift = (20 - (height - int(probe["proving_period_offset"])) % 60) % 60  # type: ignore[call-overload]
    genesis = GENESIS - 30 * shift
    stand = make_stand(tmp_path / "s", sectors=96, deadlines=48, genesis=genesis)
    stand.env["LOTUS_SIM_GENESIS"] = str(genesis)
    stand.env.update(env or {})
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    return stand


def _pushes(stand: Stand, wait: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if stand.records():
            break
        time.sleep(0.2)
    return stand.records()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Stand]:
    stand = _stand_mid_window(tmp_path)
    try:
        yield stand
    finally:
        stand.stop_all()


def test_miner_pushes_submit_windowed_post_on_its_own(live: Stand) -> None:
    miner = live.start_miner()
    live.start_worker()
    records = _pushes(live, 30)
    assert [r["method"] for r in records][:1] == [SUBMIT_WINDOWED_POST], miner.output()
    assert records[0]["to"] == live.info["miner"] and records[0]["accepted"]  # the worker key is in this wallet
    assert "starting PoSt cycle" in miner.output() and "Submitted window post" in miner.output()


def test_refused_push_is_logged_like_lotus(live: Stand) -> None:
    miner = live.start_miner()
    # PreflightChecks passed; now the wallet cannot sign (as behind the chain firewall, which refuses the push).
    name = keystore.key_file_name(keystore.WALLET_PREFIX + str(live.info["worker"]["key"]))
    (live.lotus_repo / "keystore" / name).unlink()
    live.start_worker()
    records = _pushes(live, 30)
    assert records and not records[0]["accepted"], miner.output()
    assert "submit window post failed: pushing message to mpool:" in miner.output()


def test_knob_turns_the_scheduler_off_for_unit_tests(tmp_path: Path) -> None:
    stand = _stand_mid_window(tmp_path, {"LOTUS_SIM_WDPOST_SCHEDULER": "false"})
    try:
        stand.start_miner()
        stand.start_worker()
        time.sleep(3)
        assert stand.records() == []
        assert stand.miner().call("ComputeWindowPoSt", 0, []) is not None  # the dry-run still works
    finally:
        stand.stop_all()


def test_disable_window_post_stops_the_scheduler_and_the_dry_run(tmp_path: Path) -> None:
    stand = _stand_mid_window(tmp_path, {"LOTUS_SUBSYSTEMS_DISABLEWINDOWPOST": "true"})
    try:
        stand.start_miner()
        time.sleep(3)
        assert stand.records() == []
        with pytest.raises(CallError):
            stand.miner().call("ComputeWindowPoSt", 0, [])
    finally:
        stand.stop_all()

