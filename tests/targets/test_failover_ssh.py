"""Failover mode on the ssh target (real sshd on this host), with the drill folder read here or only over SSH."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spdrill.bringup import GRAPH
from spdrill.demo import SIM_RECORDS
from spdrill.drill import Drill
from spdrill.failover import CHANGE_PEER_ID, FailoverMode, failover_graph
from spdrill.targets.ssh import SshTarget

from .conftest import Sshd, demo_plan, drill_leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.expects_mpool_push
@pytest.mark.parametrize("restore", ["harness", "remote"])
def test_failover_on_the_ssh_target(sshd: Sshd, tmp_path: Path, restore: str) -> None:
    from lotus_sim import keystore

    workdir = tmp_path / "remote"
    plan = demo_plan(tmp_path / "demo", "ssh", sshd.options(workdir=str(workdir), backend="ssh", restore=restore),
                     gpu=False)
    fixture = tmp_path / "demo" / "fixture"
    info = json.loads((fixture / "fixture.json").read_text())
    address = str(info["worker"]["key"])
    key = keystore.KeyInfo.from_export((fixture / str(info["secrets"][address])).read_text(), "worker key")
    keystore.write_key(fixture / "restore-point" / "lotus", keystore.WALLET_PREFIX + address, key)
    drill = Drill(plan, target=SshTarget(plan.target.options, plan.standby),
                  failover=FailoverMode(plan.actor))
    drill.start()
    try:
        results = {name: drill.stage(name) for name in failover_graph(GRAPH, False)}
    finally:
        journal = drill.close()
    failed = {n: r.detail for n, r in results.items() if not r.ok}
    assert not failed, failed
    assert journal.facts["failover_change_peer_id_cid"] == results["init-restore"].facts["change_peer_id_cid"]
    record = tmp_path / "demo" / SIM_RECORDS / "mpool-push.jsonl"
    [msg] = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    assert msg["method"] == CHANGE_PEER_ID and msg["key"] == address and msg["accepted"] is True
    assert drill_leftovers(drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
