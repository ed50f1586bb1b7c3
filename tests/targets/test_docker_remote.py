"""Remote Docker engines: `[target.docker] restore`, the drill volume, TLS through DOCKER_HOST, reaping volumes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from spdrill.errors import PlanError
from spdrill.targets import dockerkit as kit
from spdrill.targets.dockervolume import DrillVolume, VolumeFS

from .conftest import Engine, Sshd, demo_plan, unavailable, without_requirements
from .docker_tls import TlsEngine

SPDRILL = Path(sys.executable).with_name("spdrill")


def test_restore_option_takes_harness_volume_or_remote() -> None:
    for mode in ("harness", "volume", "remote"):
        assert kit.parse_options({"restore": mode}).restore == mode
    with pytest.raises(PlanError) as err:
        kit.parse_options({"restore": "rsync"})
    assert err.value.field == "target.docker.restore"
    assert all(f'"{m}"' in str(err.value) for m in ("harness", "volume", "remote"))


@pytest.mark.parametrize("host", ["tcp://10.1.2.3:2376", "ssh://sp@gpu-host", "tcp://127.0.0.1:2376"])
def test_an_engine_that_may_be_elsewhere_needs_a_restore_choice(host: str) -> None:
    with pytest.raises(PlanError) as err:
        kit.restore_mode(kit.parse_options({}), host)
    assert err.value.field == "target.docker.restore"
    assert host in str(err.value) and '"volume"' in str(err.value) and '"remote"' in str(err.value)
    assert kit.restore_mode(kit.parse_options({"restore": "volume"}), host) == "volume"
    assert kit.restore_mode(kit.parse_options({"restore": "harness"}), host) == "harness"


@pytest.mark.parametrize("host", ["", "unix:///var/run/docker.sock", "unix:///run/user/1000/docker.sock"])
def test_a_local_engine_bind_mounts_by_default(host: str) -> None:
    assert kit.restore_mode(kit.parse_options({}), host) == "harness"


def _docker_plan(tmp: Path, image: str, **options: str) -> Path:
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


def test_plan_check_refuses_a_tcp_engine_without_restore(tmp_path: Path) -> None:
    plan = _docker_plan(tmp_path, "spdrill-sim:any")
    env = {**os.environ, "DOCKER_HOST": "tcp://192.0.2.7:2376"}
    res = subprocess.run([str(SPDRILL), "plan", "check", str(plan)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2, res.stderr
    assert "target.docker.restore" in res.stderr and "Traceback" not in res.stderr
    plan.write_text(plan.read_text().replace("[target.docker]\n", '[target.docker]\nrestore = "volume"\n'))
    res = subprocess.run([str(SPDRILL), "plan", "check", str(plan)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr


# -- on the real engine ------------------------------------------------------------------------------------------
def _labelled(client: Any, drill_id: str) -> list[str]:
    label = {"label": f"{kit.LABEL}={drill_id}"}
    return ([f"container {c.name}" for c in client.containers.list(all=True, filters=label)]
            + [f"network {n.name}" for n in client.networks.list(filters=label)]
            + [f"volume {v.name}" for v in client.volumes.list(filters=label)])


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
    assert _labelled(docker_engine.client, drill_id) == []


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
        assert _labelled(client, dead) == []
        assert _labelled(client, alive) == [f"volume spdrill-{alive}"]  # its harness still runs
    finally:
        kit.reap(dead)
        kit.reap(alive)
    assert _labelled(client, alive) == []


@pytest.mark.integration
@pytest.mark.slow
def test_full_drill_over_tls_into_a_volume(docker_tls: TlsEngine, sim_image: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from spdrill.bringup import GRAPH
    from spdrill.drill import Drill
    from spdrill.targets.docker import DockerTarget

    for key, value in docker_tls.env().items():
        monkeypatch.setenv(key, value)
    # Set system-wide on many hosts; requests would let it replace the engine's CA (dockerremote._from_env).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    workdir = tmp_path / "run"
    plan = demo_plan(tmp_path / "demo", "docker", {"image": sim_image, "workdir": str(workdir),
                                                   "restore": "volume"}, gpu=False)
    target = DockerTarget(plan.target.options, requirements=plan.standby.requirements)
    drill = Drill(plan, target=target)
    drill.start()
    client = kit.connect()
    try:
        results = {name: drill.stage(name) for name in GRAPH}
        failed = {n: r.detail for n, r in results.items() if not r.ok}
        assert not failed, failed
        roles = client.containers.list(filters={"label": f"{kit.LABEL}={drill.id}"})
        mounts = {c.name: [(m["Type"], m.get("Name", m["Source"])) for m in c.attrs["Mounts"]] for c in roles}
        assert len(mounts) == 4  # daemon, miner, worker and the volume helper
        assert all(m == [("volume", f"spdrill-{drill.id}")] for m in mounts.values()), mounts
    finally:
        drill.close()
    assert {"daemon", "miner", "worker"} <= set(drill.logs)
    assert _labelled(client, drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
    client.close()


@pytest.mark.integration
def test_a_client_certificate_the_engine_does_not_trust_cannot_run(docker_tls: TlsEngine, sim_image: str,
                                                                    tmp_path: Path) -> None:
    plan = _docker_plan(tmp_path, sim_image, restore="volume")
    env = {**os.environ, **docker_tls.env(docker_tls.wrong_certs)}
    res = subprocess.run([str(SPDRILL), "run", "--plan", str(plan)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 3, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert f"DOCKER_HOST={docker_tls.host}" in out and f"DOCKER_CERT_PATH={docker_tls.wrong_certs}" in out
    assert "Traceback" not in out


@pytest.mark.integration
@pytest.mark.slow
def test_full_drill_through_an_ssh_docker_host(docker_engine: Engine, sshd: Sshd, sim_image: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """DOCKER_HOST=ssh://standby: the SDK runs `ssh standby docker system dial-stdio` (the docker CLI there)."""
    from spdrill.bringup import GRAPH
    from spdrill.drill import Drill
    from spdrill.targets.docker import DockerTarget

    if shutil.which("docker") is None:
        unavailable("the docker CLI is not installed (Debian: docker.io); ssh:// engines need it on the remote side")
    # ssh reads ~/.ssh/config from the passwd home, not $HOME: a wrapper hands it the test sshd's key and host key.
    wrapper = tmp_path / "bin" / "ssh"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F none -i {sshd.client_key} -o IdentitiesOnly=yes '
                       f'-o UserKnownHostsFile={sshd.known_hosts} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_HOST", f"ssh://{sshd.user}@127.0.0.1:{sshd.port}")
    workdir = tmp_path / "run"
    plan = demo_plan(tmp_path / "demo", "docker", {"image": sim_image, "workdir": str(workdir),
                                                   "restore": "volume"}, gpu=False)
    drill = Drill(plan, target=DockerTarget(plan.target.options, requirements=plan.standby.requirements))
    drill.start()
    try:
        results = {name: drill.stage(name) for name in GRAPH}
        failed = {n: r.detail for n, r in results.items() if not r.ok}
        assert not failed, failed
    finally:
        drill.close()
    assert _labelled(docker_engine.client, drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()


def _kill_mid_drill(plan: Path, env: dict[str, str], client: Any) -> str:
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


@pytest.mark.integration
@pytest.mark.slow
def test_spdrill_cleanup_reaps_the_volume_of_a_killed_volume_drill(docker_tls: TlsEngine, sim_image: str,
                                                                   tmp_path: Path) -> None:
    """`spdrill run` (volume mode over TLS), SIGKILLed with its standby up: `spdrill cleanup` removes everything."""
    plan = _docker_plan(tmp_path, sim_image, restore="volume")
    env = {**os.environ, **docker_tls.env()}
    client = kit.connect()
    drill_id = _kill_mid_drill(plan, env, client)
    assert f"volume spdrill-{drill_id}" in _labelled(client, drill_id)  # the volume outlived the harness
    res = subprocess.run([str(SPDRILL), "cleanup", "--workdir", str(tmp_path / "run")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"volume spdrill-{drill_id}" in res.stdout
    assert _labelled(client, drill_id) == []
    assert not (tmp_path / "run" / f"spdrill-{drill_id}").exists()
    client.close()


def test_missing_client_certificates_name_docker_cert_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spdrill.errors import CannotRunError

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path / "no-such-folder"))
    with pytest.raises(CannotRunError) as err:
        kit.connect(timeout=5)
    assert f"DOCKER_CERT_PATH={tmp_path / 'no-such-folder'}" in str(err.value)
    assert "DOCKER_HOST=tcp://127.0.0.1:9" in str(err.value)


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
    drill = Drill(plan, target=DockerTarget(plan.target.options, requirements=plan.standby.requirements))
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
    assert _labelled(client, drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
    client.close()


def _owned_by(client: Any, pid: int) -> list[str]:
    mine = [c.name for c in client.containers.list(all=True, filters={"label": kit.LABEL})
            if c.labels.get(kit.OWNER_LABEL, "").endswith(f":{pid}")]
    return mine + [n.name for n in client.networks.list(filters={"label": kit.LABEL})
                   if (n.attrs.get("Labels") or {}).get(kit.OWNER_LABEL, "").endswith(f":{pid}")]


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
    assert _labelled(client, f"seen{os.getpid()}") == []


@pytest.mark.integration
def test_harness_restore_on_an_engine_that_cannot_see_the_folder_cannot_run(docker_tls: TlsEngine,
                                                                            sim_image: str, tmp_path: Path) -> None:
    """The harness in its own mount namespace, its workdir a tmpfs there: the engine sees another folder."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        unavailable("unshare (util-linux) as root is needed to hide the workdir from the engine")
    plan = _docker_plan(tmp_path, sim_image, restore="harness")
    (tmp_path / "run").mkdir()
    env = {**os.environ, **docker_tls.env()}
    script = f"mount -t tmpfs none {tmp_path / 'run'} && exec {SPDRILL} run --plan {plan}"
    proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, out + err
    assert 'restore = "volume"' in out + err and "does not see the drill folder" in out + err
    assert "Traceback" not in out + err
    assert _owned_by(kit.connect(), proc.pid) == []


@pytest.mark.integration
@pytest.mark.slow
def test_spdrill_cleanup_removes_the_engine_host_folder_of_a_killed_remote_drill(docker_tls: TlsEngine,
                                                                                 sim_image: str,
                                                                                 tmp_path: Path) -> None:
    """The folder lives on the engine's host: cleanup removes it through the dead drill's restore helper."""
    plan = _docker_plan(tmp_path, sim_image, restore="remote")
    env = {**os.environ, **docker_tls.env()}
    client = kit.connect()
    drill_id = _kill_mid_drill(plan, env, client)
    folder = tmp_path / "run" / f"spdrill-{drill_id}"
    assert folder.is_dir()
    # No --workdir: this host's reaper looks in its default folder, so only the helper can remove this one.
    res = subprocess.run([str(SPDRILL), "cleanup"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"folder {folder} on the engine's host" in res.stdout
    assert not folder.exists()
    assert _labelled(client, drill_id) == []
    client.close()
