"""A full simulated drill on the docker target (real dockerd, sim image from debootstrap); nothing left."""

from __future__ import annotations

from pathlib import Path

import pytest

from spdrill.bringup import GRAPH
from spdrill.drill import Drill
from spdrill.targets import dockerkit
from spdrill.targets.docker import DockerTarget

from .conftest import Engine, demo_plan, sim_listens_where_told

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _labelled(engine: Engine, drill_id: str) -> list[str]:
    label = {"label": f"{dockerkit.LABEL}={drill_id}"}
    return ([c.name for c in engine.client.containers.list(all=True, filters=label)]
            + [n.name for n in engine.client.networks.list(filters=label)])


def test_full_drill_on_the_docker_target(docker_engine: Engine, sim_image: str, tmp_path: Path) -> None:
    if not sim_listens_where_told():
        # Real Lotus binds 127.0.0.1 when given --api, so in a container the target drops the flag and sets
        # LOTUS_API_LISTENADDRESS; a stand-in that ignores it cannot be reached through published ports.
        pytest.xfail("lotus_sim ignores LOTUS_API_LISTENADDRESS (real Lotus honours it): the containers' "
                     "APIs bind 127.0.0.1 and the drill cannot reach them")
    workdir = tmp_path / "run"
    options = {"image": sim_image, "workdir": str(workdir), "memory": "2GiB", "cpus": 1.5}
    plan = demo_plan(tmp_path / "demo", "docker", options, gpu=False)
    target = DockerTarget(plan.target.options, requirements=plan.standby.requirements)
    drill = Drill(plan, target=target)
    drill.start()
    try:
        results = {name: drill.stage(name) for name in GRAPH}
        failed = {n: r.detail for n, r in results.items() if not r.ok}
        assert not failed, failed
        running = {c.labels[dockerkit.ROLE_LABEL]: c for c in docker_engine.client.containers.list(
            filters={"label": f"{dockerkit.LABEL}={drill.id}"})}
        assert set(running) == {"daemon", "miner", "worker"}
        daemon = running["daemon"]
        assert daemon.attrs["HostConfig"]["Memory"] == 2 * 2**30
        assert daemon.attrs["HostConfig"]["NanoCpus"] == 1_500_000_000
        bindings = [b for v in daemon.attrs["HostConfig"]["PortBindings"].values() for b in v]
        assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings)
    finally:
        journal = drill.close()
    assert journal.target == "docker"
    assert {"daemon", "miner", "worker"} <= set(drill.logs)
    assert _labelled(docker_engine, drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
