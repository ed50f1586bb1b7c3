"""Shared pieces of the remote-engine tests: a plan file with a [target.docker] table, labelled leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from spdrill.targets.docker import kit

from .conftest import demo_plan, without_requirements

SPDRILL = Path(sys.executable).with_name("spdrill")


def docker_plan(tmp: Path, image: str, **options: str) -> Path:
    """The demo plan as a file with a [target.docker] table (so `spdrill` reads it as an operator would)."""
    plan = demo_plan(tmp / "demo", "docker", {})
    text = Path(plan.source).read_text()
    start, end = text.index("[target]"), text.index("[standby]")
    extra = "".join(f'{k} = "{v}"\n' for k, v in options.items())
    table = f'[target]\nkind = "docker"\n\n[target.docker]\nimage = "{image}"\nworkdir = "{tmp / "run"}"\n{extra}\n'
    out = tmp / "docker-plan.toml"
    out.write_text(without_requirements(text[:start] + table + text[end:])
                   + "\n[standby.requirements]\ngpu = false\nproof_params = false\n")
    return out


def labelled(client: Any, drill_id: str) -> list[str]:
    label = {"label": f"{kit.LABEL}={drill_id}"}
    return ([f"container {c.name}" for c in client.containers.list(all=True, filters=label)]
            + [f"network {n.name}" for n in client.networks.list(filters=label)]
            + [f"volume {v.name}" for v in client.volumes.list(filters=label)])


def kill_mid_drill(plan: Path, env: dict[str, str], client: Any) -> str:
    """Start `spdrill run` on a plan whose chain never syncs, SIGKILL it once its miner runs; its drill id."""
    # A stand-in whose sync never ends keeps the drill waiting, with its containers up, until we kill it.
    plan.write_text(plan.read_text().replace("[standby.env]\n", '[standby.env]\nLOTUS_SIM_NEVER_SYNC = "1"\n'))
    proc = subprocess.Popen([str(SPDRILL), "run", "--plan", str(plan)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    drill_ids: set[str] = set()
    try:
        for _ in range(600):  # bounded by tries, not by time: the miner comes up within seconds
            found = client.containers.list(filters={"label": f"{kit.ROLE_LABEL}=miner"})
            drill_ids = {c.labels[kit.LABEL] for c in found
                         if c.labels.get(kit.OWNER_LABEL, "").endswith(f":{proc.pid}")}
            if drill_ids or proc.poll() is not None:
                break
            time.sleep(0.2)
        assert drill_ids, "the drill's miner container never came up"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    (drill_id,) = drill_ids
    return drill_id


def owned_by(client: Any, pid: int) -> list[str]:
    mine = [c.name for c in client.containers.list(all=True, filters={"label": kit.LABEL})
            if c.labels.get(kit.OWNER_LABEL, "").endswith(f":{pid}")]
    return mine + [n.name for n in client.networks.list(filters={"label": kit.LABEL})
                   if (n.attrs.get("Labels") or {}).get(kit.OWNER_LABEL, "").endswith(f":{pid}")]
