"""`restore = "volume"`: the drill folder in a labelled Docker volume, and reaping volumes of killed drills."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from spdrill.targets.docker import kit
from spdrill.targets.docker.volume import DrillVolume, VolumeFS

from .conftest import Engine
from .docker_helpers import SPDRILL, docker_plan, kill_mid_drill, labelled
from .docker_tls import TlsEngine


@pytest.mark.integration
def test_volume_holds_the_staged_folder_and_takes_every_later_edit(docker_engine: Engine, sim_image: str,
                                                                   tmp_path: Path) -> None:
    staging = tmp_path / "spdrill-voltest"
    (staging / "ws0" / "repo").mkdir(parents=True)
    (staging / "ws0" / "repo" / "config.toml").write_text("[Subsystems]\n")
    (staging / "ws0" / "chain").mkdir()
    (staging / "ws0" / "chain" / "a.car").write_text("car")
    (staging / "workspace").mkdir()
    (staging / "workspace" / "miner").symlink_to(staging / "ws0", target_is_directory=True)
    drill_id = f"voltest{os.getpid()}"
    if os.geteuid() == 0:
        os.chown(staging, 4321, 4321)  # a harness user other than root: the volume's root must become theirs
    owner = f"{staging.stat().st_uid}:{staging.stat().st_gid}"
    volume = DrillVolume(docker_engine.client, drill_id, {kit.LABEL: drill_id}, sim_image, f"{os.getuid()}")
    fs = VolumeFS()
    try:
        volume.create(staging)
        volume.fill(staging)
        fs.switch_to(volume)
        assert not fs.local
        assert volume.exec(["stat", "-c", "%u:%g", str(staging)], timeout=30).stdout.strip() == owner
        config = staging / "workspace" / "miner" / "repo" / "config.toml"
        # The staging copy changes after the fill: reads must come from the volume, not from this host.
        (staging / "ws0" / "repo" / "config.toml").write_text("changed on the harness\n")
        assert fs.read_text(config) == "[Subsystems]\n"
        fs.write_text(config, "[Subsystems]\nDisableWinningPoSt = true\n")
        res = volume.exec(["cat", str(staging / "ws0" / "repo" / "config.toml")], timeout=30)
        assert res.stdout == "[Subsystems]\nDisableWinningPoSt = true\n"
        assert fs.resolve(staging / "workspace" / "miner") == staging / "ws0"
        assert fs.newest(staging / "ws0", "chain/*.car*") == staging / "ws0" / "chain" / "a.car"
        fs.mkdir(staging / "lotus-worker")
        assert fs.is_dir(staging / "lotus-worker") and not (staging / "lotus-worker").exists()
        fs.unlink(config)
        assert not fs.is_file(config)
    finally:
        removed = kit.reap(drill_id)
    assert f"volume spdrill-{drill_id}" in removed
    assert labelled(docker_engine.client, drill_id) == []


@pytest.mark.integration
def test_reap_removes_the_volumes_of_killed_drills_only(docker_engine: Engine) -> None:
    from spdrill.snapshots.cleanup import owner_tag

    gone = subprocess.Popen(["true"])
    gone.wait()
    dead, alive = f"reapdead{os.getpid()}", f"reapalive{os.getpid()}"
    client = docker_engine.client
    client.volumes.create(f"spdrill-{dead}", labels={kit.LABEL: dead,
                                                      kit.OWNER_LABEL: f"{socket.gethostname()}:{gone.pid}"})
    client.volumes.create(f"spdrill-{alive}", labels={kit.LABEL: alive, kit.OWNER_LABEL: owner_tag()})
    try:
        removed = kit.reap(None)
        assert f"volume spdrill-{dead}" in removed
        assert labelled(client, dead) == []
        assert labelled(client, alive) == [f"volume spdrill-{alive}"]  # its harness still runs
    finally:
        kit.reap(dead)
        kit.reap(alive)
    assert labelled(client, alive) == []


@pytest.mark.integration
@pytest.mark.slow
def test_spdrill_cleanup_reaps_the_volume_of_a_killed_volume_drill(docker_tls: TlsEngine, sim_image: str,
                                                                   tmp_path: Path) -> None:
    """`spdrill run` (volume mode over TLS), SIGKILLed with its standby up: `spdrill cleanup` removes everything."""
    plan = docker_plan(tmp_path, sim_image, restore="volume")
    env = {**os.environ, **docker_tls.env()}
    client = kit.connect()
    drill_id = kill_mid_drill(plan, env, client)
    assert f"volume spdrill-{drill_id}" in labelled(client, drill_id)  # the volume outlived the harness
    res = subprocess.run([str(SPDRILL), "cleanup", "--workdir", str(tmp_path / "run")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"volume spdrill-{drill_id}" in res.stdout
    assert labelled(client, drill_id) == []
    assert not (tmp_path / "run" / f"spdrill-{drill_id}").exists()
    client.close()
