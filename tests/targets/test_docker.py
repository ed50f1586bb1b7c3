"""The docker target on a real engine with the sim image: network, roles, commands, limits, reaping."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spdrill.errors import CannotRunError, PlanError, TargetError
from spdrill.hostcheck import checks
from spdrill.plan import Requirements, StandbySpec
from spdrill.targets import Target, target_class, validate_target_options
from spdrill.targets.docker import DockerTarget, reap
from spdrill.targets.docker import kit as dockerkit

from .conftest import Engine

DRILL = "20261126T000000Z-dock01"


@pytest.fixture()
def target(docker_engine: Engine, sim_image: str, tmp_path: Path) -> Iterator[DockerTarget]:
    t = DockerTarget({"image": sim_image, "workdir": str(tmp_path), "memory": "1GiB"},
                     StandbySpec(requirements=Requirements(gpu=False)))
    t.open(f"{DRILL}-{os.getpid() % 1000}")
    try:
        yield t
    finally:
        t.close()


def _labelled(engine: Engine, drill_id: str) -> list[str]:
    label = {"label": f"{dockerkit.LABEL}={drill_id}"}
    return ([c.name for c in engine.client.containers.list(all=True, filters=label)]
            + [n.name for n in engine.client.networks.list(filters=label)])


@pytest.mark.integration
def test_network_roles_and_commands(docker_engine: Engine, target: DockerTarget) -> None:
    assert target.network is not None and target.subnet is not None
    assert target.network.attrs["Labels"][dockerkit.LABEL] == target.drill_id
    assert target.listen_host("worker") == str(target.subnet.network_address + 12)
    # Before the daemon container exists, daemon-side commands run in a one-shot container (removed after).
    with pytest.raises(TargetError, match="no answer within 2s"):
        target.run(["sh", "-c", "sleep 30"], env={}, timeout=2)
    port = target.free_port()
    target.spawn("daemon", ["python3", "-m", "http.server", "--api", "9"], env={"X": "1"}, port=port)
    # The --api flag was dropped in the container (it would bind 127.0.0.1) and the listen address passed on.
    c = docker_engine.client.containers.get(f"spdrill-{target.drill_id}-daemon")
    assert "--api" not in c.attrs["Config"]["Cmd"]
    env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
    assert env["LOTUS_API_LISTENADDRESS"] == f"/ip4/{target.listen_host('daemon')}/tcp/{port}/http"
    bindings = c.attrs["HostConfig"]["PortBindings"]
    assert bindings == {f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    # Now daemon-side commands run in the daemon container (exec), under the same timeout rule.
    res = target.run(["sh", "-c", "echo $Y $SPDRILL_DRILL; hostname; exit 4"], env={"Y": "2"}, timeout=30)
    assert res.returncode == 4 and res.stdout.split()[:2] == ["2", target.drill_id]
    assert res.stdout.split()[2] == c.attrs["Config"]["Hostname"]
    with pytest.raises(TargetError, match="no answer within 1s"):
        target.run(["sleep", "30"], env={}, timeout=1)
    res = target.run(["lotus-worker", "--help"], env={}, timeout=60)
    assert "lotus-worker" in res.stdout + res.stderr
    assert target.exit_code("daemon") is None
    c.kill()
    deadline = time.monotonic() + 10
    while target.exit_code("daemon") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert target.exit_code("daemon") not in (None, 0)
    assert "daemon" in target.logs()


@pytest.mark.integration
def test_host_checks_inside_the_container(target: DockerTarget) -> None:
    target.spawn("worker", ["sleep", "300"], env={}, port=target.free_port())
    host = target.host()
    m = checks.host_memory(host)
    assert m.limit == 2**30 and m.usable == 2**30  # the container's memory limit, not the host's RAM
    assert not checks.judge_ram(m, 2 * 2**30).ok
    with pytest.raises(checks.NoGpuDriver):
        checks.gpu_report(host)


@pytest.mark.integration
def test_fixed_mount_point_and_params_folder(docker_engine: Engine, sim_image: str, tmp_path: Path) -> None:
    params = tmp_path / "params"
    params.mkdir()
    (params / "v28-demo.vk").write_text("vk")
    t = DockerTarget({"image": sim_image, "workdir": str(tmp_path / "run"), "mount_at": "/drill",
                      "params_dir": str(params)}, StandbySpec(requirements=Requirements(gpu=False)))
    root = t.open(f"{DRILL}-mount")
    try:
        (root / "a").mkdir()
        (root / "a" / "f.txt").write_text("from the harness\n")
        assert t.path(root / "a" / "f.txt") == "/drill/a/f.txt"
        script = "cat /drill/a/f.txt; pwd; ls $FIL_PROOFS_PARAMETER_CACHE"
        res = t.run(["sh", "-c", script], env={}, timeout=60)
        assert res.stdout.split("\n")[:3] == ["from the harness", "/drill", "v28-demo.vk"]
    finally:
        t.close()


@pytest.mark.integration
def test_close_leaves_nothing(docker_engine: Engine, sim_image: str, tmp_path: Path) -> None:
    t = DockerTarget({"image": sim_image, "workdir": str(tmp_path)}, StandbySpec(requirements=Requirements(gpu=False)))
    root = t.open(f"{DRILL}-close")
    t.spawn("miner", ["sleep", "300"], env={}, port=t.free_port())
    t.close()
    t.close()
    assert _labelled(docker_engine, f"{DRILL}-close") == [] and not root.exists()


@pytest.mark.integration
def test_reap_removes_what_a_killed_drill_left(docker_engine: Engine, sim_image: str) -> None:
    dead = f"{socket.gethostname()}:{2**22 + 17}"  # a pid that cannot exist: the owner was killed
    client = docker_engine.client
    live = f"{socket.gethostname()}:1"
    for did, owner in (("20261126T000000Z-dead01", dead), ("20261126T000000Z-live01", live)):
        labels = {dockerkit.LABEL: did, dockerkit.OWNER_LABEL: owner}
        net = client.networks.create(f"spdrill-{did}", labels=labels)
        client.containers.run(sim_image, ["sleep", "300"], detach=True, labels=labels, network=net.name,
                              name=f"spdrill-{did}-daemon")
    try:
        removed = reap(None)
        assert any("spdrill-20261126T000000Z-dead01-daemon" in r for r in removed)
        assert _labelled(docker_engine, "20261126T000000Z-dead01") == []
        assert len(_labelled(docker_engine, "20261126T000000Z-live01")) == 2  # its owner (pid 1) is alive
    finally:
        reap("20261126T000000Z-live01")
    assert _labelled(docker_engine, "20261126T000000Z-live01") == []


@pytest.mark.integration
def test_missing_sim_image_says_how_to_build_it(docker_engine: Engine, tmp_path: Path) -> None:
    t = DockerTarget({"image": "spdrill-sim:0.0.0-absent", "workdir": str(tmp_path)})
    with pytest.raises(TargetError, match="spdrill image build-sim"):
        t.open(f"{DRILL}-noimage")
    t.close()


@pytest.mark.integration
def test_gpu_request_reaches_the_engine(docker_engine: Engine, sim_image: str, tmp_path: Path) -> None:
    """With gpus asked and a GPU required, the worker asks the engine for GPUs (refused where it has none)."""
    options = {"image": sim_image, "workdir": str(tmp_path), "gpus": "all"}
    t = DockerTarget(options, StandbySpec(requirements=Requirements()))
    t.open(f"{DRILL}-gpu")
    try:
        has_nvidia = "nvidia" in (docker_engine.client.info().get("Runtimes") or {})
        if has_nvidia:
            t.spawn("worker", ["sleep", "30"], env={}, port=t.free_port())
            c = docker_engine.client.containers.get(f"spdrill-{DRILL}-gpu-worker")
            assert c.attrs["HostConfig"]["DeviceRequests"][0]["Count"] == -1
        else:
            with pytest.raises(TargetError, match="cannot start the worker container"):
                t.spawn("worker", ["sleep", "30"], env={}, port=t.free_port())
        # The daemon never gets the GPU: it is the worker that proves.
        t.spawn("daemon", ["sleep", "30"], env={}, port=t.free_port())
        d = docker_engine.client.containers.get(f"spdrill-{DRILL}-gpu-daemon")
        assert not d.attrs["HostConfig"]["DeviceRequests"]
    finally:
        t.close()


@pytest.mark.integration
def test_docker_host_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/elsewhere.sock")
    t = DockerTarget({"workdir": str(tmp_path)})
    with pytest.raises(CannotRunError, match="elsewhere.sock") as err:
        t.open(f"{DRILL}-dh")
    assert err.value.exit_code == 3
    monkeypatch.setenv("DOCKER_HOST", "tcp://gpu-box.example:2376")
    assert dockerkit.default_api_host() == "gpu-box.example"


def test_options_are_validated_with_field_names() -> None:
    validate_target_options("docker", {"image": "x:1", "gpus": "all", "memory": "64GiB", "cpus": 8,
                                       "images": {"worker": "y:2"}, "subnet": "10.9.8.0/24"})
    cases: list[tuple[dict[str, Any], str]] = [
             ({"gpus": "some"}, "gpus"), ({"memory": "lots"}, "memory"), ({"cpus": 0}, "cpus"),
             ({"images": {"sealer": "x"}}, "images"), ({"pull": "sometimes"}, "pull"),
             ({"subnet": "10.0.0.0/30"}, "subnet"), ({"workdir": "tmp"}, "workdir"), ({"ports": 1}, "ports")]
    for options, key in cases:
        with pytest.raises(PlanError) as err:
            validate_target_options("docker", options)
        assert err.value.field == f"target.docker.{key}"


def test_api_flags_become_a_listen_address() -> None:
    argv, env = dockerkit.container_argv("miner", ["lotus-miner", "run", "--miner-api", "2345", "--nosync"],
                                         "10.213.0.11", 2345)
    assert argv == ["lotus-miner", "run", "--nosync"]
    assert env == {"LOTUS_API_LISTENADDRESS": "/ip4/10.213.0.11/tcp/2345/http"}
    argv, _ = dockerkit.container_argv("daemon", ["lotus", "daemon", "--api=1234"], "ip", 1234)
    assert argv == ["lotus", "daemon"]
    assert dockerkit.container_argv("worker", ["lotus-worker", "run", "--listen", "a:1"], "ip", 1) == (
        ["lotus-worker", "run", "--listen", "a:1"], {})


def test_gpu_device_requests() -> None:
    assert dockerkit.device_requests("none") == []
    (req,) = dockerkit.device_requests("all")
    assert req["Count"] == -1 and ["gpu", "compute", "utility"] in req["Capabilities"]
    assert dockerkit.device_requests(("GPU-bfeada00",))[0]["DeviceIDs"] == ["GPU-bfeada00"]


def test_free_ports_are_never_handed_out_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    offers = iter([40001, 40001, 40002])  # a kernel offering the same free port twice in a row

    class Offered:
        def __init__(self) -> None:
            self.port = next(offers)

        def __enter__(self) -> Offered:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def bind(self, address: object) -> None:
            return None

        def getsockname(self) -> tuple[str, int]:
            return "127.0.0.1", self.port

    monkeypatch.setattr("spdrill.targets.docker.target.socket.socket", Offered)
    target = DockerTarget({})
    assert (target.free_port(), target.free_port()) == (40001, 40002)


def test_registry_builds_a_docker_target() -> None:
    target = target_class("docker")({}, StandbySpec())
    assert isinstance(target, DockerTarget) and isinstance(target, Target)
