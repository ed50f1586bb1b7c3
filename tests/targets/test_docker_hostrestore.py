"""`restore = "remote"` (restore on the engine's host) and the visibility check of `restore = "harness"`."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from spdrill.targets.docker import kit

from .conftest import demo_plan, unavailable
from .docker_helpers import SPDRILL, docker_plan, kill_mid_drill, labelled, owned_by
from .docker_tls import TlsEngine


@pytest.mark.integration
@pytest.mark.slow
def test_full_drill_restoring_on_the_engines_host(docker_tls: TlsEngine, sim_image: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """restore = "remote": the source's commands run on the engine's host (the engine's record of its execs)."""
    from spdrill.bringup import GRAPH
    from spdrill.drill import Drill
    from spdrill.targets.docker import DockerTarget

    for key, value in docker_tls.env().items():
        monkeypatch.setenv(key, value)
    workdir = tmp_path / "run"
    plan = demo_plan(tmp_path / "demo", "docker", {"image": sim_image, "workdir": str(workdir),
                                                   "restore": "remote"}, gpu=False)
    source = str(plan.restore.sources[0].table["path"])
    client = kit.connect()
    drill = Drill(plan, target=DockerTarget(plan.target.options, plan.standby))
    started = time.time()
    drill.start()
    try:
        results = {name: drill.stage(name) for name in GRAPH}
        failed = {n: r.detail for n, r in results.items() if not r.ok}
        assert not failed, failed
    finally:
        drill.close()
    events = client.events(since=int(started) - 1, until=int(time.time()) + 1, decode=True,
                           filters={"type": "container", "event": "exec_create",
                                    "label": f"{kit.LABEL}={drill.id}"})
    on_host = [e["Action"] for e in events
               if e["Actor"]["Attributes"].get(kit.ROLE_LABEL) == "host-helper" and source in e["Action"]]
    assert any("chroot /host" in a for a in on_host), on_host  # the restore point was read on the engine's host
    assert labelled(client, drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
    client.close()


@pytest.mark.integration
@pytest.mark.slow
def test_spdrill_cleanup_removes_the_engine_host_folder_of_a_killed_remote_drill(docker_tls: TlsEngine,
                                                                                 sim_image: str,
                                                                                 tmp_path: Path) -> None:
    """The folder lives on the engine's host: cleanup removes it through the dead drill's restore helper."""
    plan = docker_plan(tmp_path, sim_image, restore="remote")
    env = {**os.environ, **docker_tls.env()}
    client = kit.connect()
    drill_id = kill_mid_drill(plan, env, client)
    folder = tmp_path / "run" / f"spdrill-{drill_id}"
    assert folder.is_dir()
    # No --workdir: this host's reaper looks in its default folder, so only the helper can remove this one.
    res = subprocess.run([str(SPDRILL), "cleanup"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"folder {folder} on the engine's host" in res.stdout
    assert not folder.exists()
    assert labelled(client, drill_id) == []
    client.close()


@pytest.mark.integration
def test_harness_restore_on_an_engine_that_sees_the_folder_opens(docker_tls: TlsEngine, sim_image: str,
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from spdrill.targets.docker import DockerTarget

    for key, value in docker_tls.env().items():
        monkeypatch.setenv(key, value)
    target = DockerTarget({"image": sim_image, "workdir": str(tmp_path / "run"), "restore": "harness"})
    try:
        root = target.open(f"seen{os.getpid()}")
        assert root.is_dir()
    finally:
        target.close()
    client = kit.connect()
    assert labelled(client, f"seen{os.getpid()}") == []


@pytest.mark.integration
def test_harness_restore_on_an_engine_that_cannot_see_the_folder_cannot_run(docker_tls: TlsEngine,
                                                                            sim_image: str, tmp_path: Path) -> None:
    """The harness in its own mount namespace, its workdir a tmpfs there: the engine sees another folder."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        unavailable("unshare (util-linux) as root is needed to hide the workdir from the engine")
    plan = docker_plan(tmp_path, sim_image, restore="harness")
    (tmp_path / "run").mkdir()
    env = {**os.environ, **docker_tls.env()}
    script = f"mount -t tmpfs none {tmp_path / 'run'} && exec {SPDRILL} run --plan {plan}"
    proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, out + err
    assert 'restore = "volume"' in out + err and "does not see the drill folder" in out + err
    assert "Traceback" not in out + err
    assert owned_by(kit.connect(), proc.pid) == []
