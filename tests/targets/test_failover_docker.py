"""Failover mode on the docker target: init restore runs in the standby's image, against its daemon container."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spdrill.bringup import GRAPH
from spdrill.drill import Drill
from spdrill.failover import FailoverMode, failover_graph
from spdrill.lotus import FullNodeClient
from spdrill.targets.docker import DockerTarget
from spdrill.targets.docker import kit as dockerkit

from .conftest import Engine, demo_plan, drill_leftovers, sim_listens_where_told

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.expects_mpool_push
def test_failover_on_the_docker_target(docker_engine: Engine, sim_image: str, tmp_path: Path) -> None:
    if not sim_listens_where_told():
        pytest.xfail("lotus_sim ignores LOTUS_API_LISTENADDRESS: the containers' APIs cannot be reached")
    from lotus_sim import keystore

    plan = demo_plan(tmp_path / "demo", "docker", {"image": sim_image, "workdir": str(tmp_path / "run")}, gpu=False)
    fixture = tmp_path / "demo" / "fixture"
    info = json.loads((fixture / "fixture.json").read_text())
    address = str(info["worker"]["key"])
    key = keystore.KeyInfo.from_export((fixture / str(info["secrets"][address])).read_text(), "worker key")
    keystore.write_key(fixture / "restore-point" / "lotus", keystore.WALLET_PREFIX + address, key)
    target = DockerTarget(plan.target.options, plan.standby)
    drill = Drill(plan, target=target, failover=FailoverMode(plan.actor))
    drill.start()
    try:
        results = {name: drill.stage(name) for name in failover_graph(GRAPH, False)}
        failed = {n: r.detail for n, r in results.items() if not r.ok}
        assert not failed, failed
        assert results["init-restore"].facts["change_peer_id_cid"]
        # The push record stays inside the daemon container; the chain shows the message was applied.
        assert drill.endpoints.daemon_read is not None
        peer = FullNodeClient(drill.endpoints.daemon_read).state_miner_info(plan.actor).peer_id
        assert peer and peer != info["peer_id"]
    finally:
        journal = drill.close()
    assert journal.facts["failover_change_peer_id_cid"] == results["init-restore"].facts["change_peer_id_cid"]
    assert drill_leftovers(drill.id) == []
    label = {"label": f"{dockerkit.LABEL}={drill.id}"}
    assert docker_engine.client.containers.list(all=True, filters=label) == []
    assert docker_engine.client.networks.list(filters=label) == []
    assert not (tmp_path / "run" / f"spdrill-{drill.id}").exists()
