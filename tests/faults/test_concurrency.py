"""Four drills at once, on the local target and on the docker target, do not collide: each gets its own
drill id, drill folder, ports, container names and labels, all four pass, and nothing is left after them."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from spdrill.demo import make_demo_plan
from tests.targets.conftest import Engine, sim_listens_where_told, without_requirements

from .conftest import SPDRILL, leftovers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DRILLS = 4
PORT = re.compile(r"(?:127\.0\.0\.1:|/tcp/)(\d+)")


def _plans(tmp_path: Path, shared_run: Path, target: str = "") -> list[Path]:
    """Four restore points and plans; every plan's drill folders go to the same shared work folder."""
    plans = []
    for i in range(DRILLS):
        plan = make_demo_plan(
            tmp_path / f"d{i}", sectors=8, deadlines=1, reports=tmp_path / f"d{i}" / "reports"
        )
        text = plan.read_text().replace(str(tmp_path / f"d{i}" / "run"), str(shared_run))
        plan.write_text(target(text) if callable(target) else text)
        plans.append(plan)
    return plans


def _run_all(plans: list[Path]) -> list[tuple[int, str, dict[str, Any]]]:
    procs = [
        subprocess.Popen(
            [SPDRILL, "run", "--plan", str(p)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for p in plans
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    return [
        (proc.returncode, out, json.loads((plan.parent / "reports" / "latest" / "drill.json").read_text()))
        for proc, out, plan in zip(procs, outs, plans, strict=True)
    ]


def _ports(plan: Path, drill_id: str) -> set[int]:
    logs = plan.parent / "reports" / drill_id / "logs"
    return {int(m) for log in logs.glob("*.log") for m in PORT.findall(log.read_text(errors="replace"))}


def _assert_no_collisions(plans: list[Path], results: list[tuple[int, str, dict[str, Any]]]) -> None:
    outcomes = [
        (rc, next(p["detail"] for p in record["phases"] if p["name"] == "restore")[:200])
        for rc, _, record in results
    ]
    for rc, out, record in results:
        assert rc == 0 and record["verdict"] == "pass", f"{outcomes}\n{out}"
    ids = [record["drill_id"] for _, _, record in results]
    assert len(set(ids)) == DRILLS, ids
    ports = [_ports(plan, did) for plan, did in zip(plans, ids, strict=True)]
    assert all(ports), "each drill's logs name the ports its roles listened on"
    for i in range(DRILLS):
        for j in range(i + 1, DRILLS):
            assert not ports[i] & ports[j], f"drills {ids[i]} and {ids[j]} shared ports {ports[i] & ports[j]}"


def test_four_local_drills_at_once(tmp_path: Path) -> None:
    shared = tmp_path / "run"
    plans = _plans(tmp_path, shared)
    folders: set[str] = set()
    done = threading.Event()

    def watch() -> None:  # the drill folders that exist while the four run: one each, never shared
        while not done.is_set():
            if shared.exists():
                folders.update(p.name for p in shared.iterdir())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = _run_all(plans)
    finally:
        done.set()
        watcher.join()
    _assert_no_collisions(plans, results)
    assert {f"spdrill-{r['drill_id']}" for _, _, r in results} <= folders
    assert leftovers(tmp_path, {r["drill_id"] for _, _, r in results}) == []


@pytest.mark.integration
def test_four_docker_drills_at_once(docker_engine: Engine, sim_image: str, tmp_path: Path) -> None:
    if not sim_listens_where_told():
        pytest.xfail(
            "lotus_sim ignores LOTUS_API_LISTENADDRESS: containers' APIs are unreachable (as in "
            "tests/targets/test_docker_drill.py)"
        )

    def docker(text: str) -> str:
        start, end = text.index("[target]"), text.index("[standby]")
        table = (
            f'[target]\nkind = "docker"\n\n[target.docker]\nimage = "{sim_image}"\nworkdir = "{shared}"\n\n'
        )
        return without_requirements(text[:start] + table + text[end:]) + (
            "\n[standby.requirements]\ngpu = false\nproof_params = false\n"
        )

    shared = tmp_path / "run"
    plans = _plans(tmp_path, shared, docker)  # type: ignore[arg-type]
    seen: set[tuple[str, str, str]] = set()  # (name, drill label, role)
    done = threading.Event()

    def watch() -> None:  # every container's name, drill label and role while the four run
        while not done.is_set():
            # the low-level list: no per-container inspect that races with a drill removing its containers
            for c in docker_engine.client.api.containers(all=True, filters={"label": "spdrill.drill"}):
                labels = c["Labels"]
                seen.add((c["Names"][0].lstrip("/"), labels["spdrill.drill"], labels.get("spdrill.role", "")))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = _run_all(plans)
    finally:
        done.set()
        watcher.join()
    _assert_no_collisions(plans, results)
    ids = {r["drill_id"] for _, _, r in results}
    for did in ids:  # each drill: its own three role containers, named and labelled with its id
        mine = {name: role for name, label, role in seen if label == did}
        roles = {name: role for name, role in mine.items() if not role.endswith("-oneshot")}
        assert sorted(roles.values()) == ["daemon", "miner", "worker"], mine
        assert all(did in name for name in roles), mine
    # one-shot helpers (the chain import) carry the drill's label but an engine-chosen name: still unique
    assert len({name for name, _, _ in seen}) == len(seen), f"a container name used by two drills: {seen}"
    assert leftovers(tmp_path, ids) == []
