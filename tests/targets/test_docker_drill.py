"""A full simulated drill on the docker target (real dockerd, sim image from debootstrap); nothing left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spdrill.bringup import GRAPH
from spdrill.drill import Drill
from spdrill.targets.docker import DockerTarget, reap
from spdrill.targets.docker import kit as dockerkit

from .conftest import Engine, demo_plan, sim_listens_where_told, without_requirements

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
    target = DockerTarget(plan.target.options, plan.standby)
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


def test_killed_drill_is_reaped(docker_engine: Engine, sim_image: str, tmp_path: Path) -> None:
    """`spdrill run` on docker, SIGKILLed mid-drill, leaves labelled containers that reap() removes."""
    if not sim_listens_where_told():
        pytest.xfail("lotus_sim ignores LOTUS_API_LISTENADDRESS")
    spdrill = Path(sys.executable).with_name("spdrill")
    plan = demo_plan(tmp_path / "demo", "docker", {"image": sim_image, "workdir": str(tmp_path / "run")})
    text = Path(plan.source).read_text()
    start, end = text.index("[target]"), text.index("[standby]")
    docker_table = (f'[target]\nkind = "docker"\n\n[target.docker]\nimage = "{sim_image}"\n'
                    f'workdir = "{tmp_path / "run"}"\n\n')
    plan_file = tmp_path / "docker-plan.toml"
    # A stand-in whose sync never ends keeps the drill waiting, with its containers up, until we kill it.
    text = text[:start] + docker_table + text[end:].replace("[standby.env]\n", "[standby.env]\n"
                                                           'LOTUS_SIM_NEVER_SYNC = "1"\n')
    plan_file.write_text(without_requirements(text) + '\n[standby.requirements]\ngpu = false\n'
                         'proof_params = false\n')
    proc = subprocess.Popen([str(spdrill), "run", "--plan", str(plan_file)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        drill_ids: set[str] = set()
        while time.monotonic() < deadline and len(drill_ids) == 0:
            found = docker_engine.client.containers.list(filters={"label": f"{dockerkit.ROLE_LABEL}=miner"})
            drill_ids = {c.labels[dockerkit.LABEL] for c in found
                         if c.labels.get(dockerkit.OWNER_LABEL, "").endswith(f":{proc.pid}")}
            time.sleep(0.5)
        assert drill_ids, "the drill's miner container never came up"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    (drill_id,) = drill_ids
    assert len(_labelled(docker_engine, drill_id)) >= 4  # three roles and the network outlived the harness
    removed = reap(None)
    assert any(f"spdrill-{drill_id}-daemon" in r for r in removed)
    assert _labelled(docker_engine, drill_id) == []
