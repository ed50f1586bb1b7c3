"""Remote Docker engines: `[target.docker] restore` choices, DOCKER_HOST over tcp+TLS and ssh, their errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from spdrill.errors import PlanError
from spdrill.targets.docker import kit

from .conftest import Engine, Sshd, demo_plan, unavailable
from .docker_helpers import SPDRILL, docker_plan, labelled
from .docker_tls import TlsEngine


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


def test_plan_check_refuses_a_tcp_engine_without_restore(tmp_path: Path) -> None:
    plan = docker_plan(tmp_path, "spdrill-sim:any")
    env = {**os.environ, "DOCKER_HOST": "tcp://192.0.2.7:2376"}
    res = subprocess.run([str(SPDRILL), "plan", "check", str(plan)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2, res.stderr
    assert "target.docker.restore" in res.stderr and "Traceback" not in res.stderr
    plan.write_text(plan.read_text().replace("[target.docker]\n", '[target.docker]\nrestore = "volume"\n'))
    res = subprocess.run([str(SPDRILL), "plan", "check", str(plan)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr


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
def test_a_client_certificate_the_engine_does_not_trust_cannot_run(docker_tls: TlsEngine, sim_image: str,
                                                                    tmp_path: Path) -> None:
    plan = docker_plan(tmp_path, sim_image, restore="volume")
    env = {**os.environ, **docker_tls.env(docker_tls.wrong_certs)}
    res = subprocess.run([str(SPDRILL), "run", "--plan", str(plan)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 3, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert f"DOCKER_HOST={docker_tls.host}" in out and f"DOCKER_CERT_PATH={docker_tls.wrong_certs}" in out
    assert "Traceback" not in out


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
    target = DockerTarget(plan.target.options, plan.standby)
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
    assert labelled(client, drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
    client.close()


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
    drill = Drill(plan, target=DockerTarget(plan.target.options, plan.standby))
    drill.start()
    try:
        results = {name: drill.stage(name) for name in GRAPH}
        failed = {n: r.detail for n, r in results.items() if not r.ok}
        assert not failed, failed
    finally:
        drill.close()
    assert labelled(docker_engine.client, drill.id) == []
    assert not (workdir / f"spdrill-{drill.id}").exists()
