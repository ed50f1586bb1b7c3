"""The ssh target against a real sshd: plain-words errors, host-key checking, timeouts, roles, options."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from spdrill.errors import CannotRunError, PlanError, TargetError
from spdrill.plan import StandbySpec
from spdrill.targets import Target, target_class, validate_target_options
from spdrill.targets.ssh import SshTarget
from spdrill.targets.ssh import conn as sshconn
from spdrill.targets.ssh import target as ssh_target

from .conftest import Sshd, free_port

BACKENDS = ["ssh", "paramiko"]


def _direct(sshd: Sshd, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """Options that name the sshd directly (no ssh_config), so each test controls keys and known_hosts."""
    opts = {"host": "127.0.0.1", "port": sshd.port, "user": sshd.user, "identity_file": str(sshd.client_key),
            "known_hosts": str(sshd.known_hosts), "workdir": str(tmp_path), "connect_timeout": "5s"}
    opts.update(extra)
    return opts


def _open(opts: dict[str, Any]) -> SshTarget:
    target = SshTarget(opts)
    try:
        target.open("20261126T000000Z-test01")
    except BaseException:
        target.close()
        raise
    return target


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_open_run_and_close_through_ssh_config_alias(sshd: Sshd, tmp_path: Path, backend: str) -> None:
    target = _open(sshd.options(workdir=str(tmp_path), backend=backend))
    try:
        assert target.root is not None and (target.root / ".spdrill-drill").is_file()
        res = target.run(["sh", "-c", "echo $SPDRILL_DRILL; echo err >&2; exit 3"], env={}, timeout=20)
        got = (res.returncode, res.stdout.strip(), res.stderr.strip())
        assert got == (3, "20261126T000000Z-test01", "err")
    finally:
        target.close()
    assert not (tmp_path / "spdrill-20261126T000000Z-test01").exists()


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_unreachable_host_is_a_cannot_run_error(sshd: Sshd, tmp_path: Path, backend: str) -> None:
    private = set(Path(tempfile.gettempdir()).glob("spdrill-ssh-*"))
    with pytest.raises(CannotRunError, match="unreachable") as err:
        _open(_direct(sshd, tmp_path, port=free_port(), backend=backend))
    assert err.value.exit_code == 3
    assert set(Path(tempfile.gettempdir()).glob("spdrill-ssh-*")) == private  # no control folder left


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_refused_key_says_so(sshd: Sshd, tmp_path: Path, backend: str) -> None:
    with pytest.raises(CannotRunError, match="refused our key"):
        _open(_direct(sshd, tmp_path, identity_file=str(sshd.other_key), backend=backend))


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_host_key_is_refused_by_default(sshd: Sshd, tmp_path: Path, backend: str) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(CannotRunError, match="host key is not in known_hosts"):
        _open(_direct(sshd, tmp_path, known_hosts=str(empty), backend=backend))
    # Turning checking off is the plan's explicit choice, and then the same host is reachable.
    _open(_direct(sshd, tmp_path, known_hosts=str(empty), backend=backend, host_key_checking=False)).close()


@pytest.mark.integration
def test_drill_folder_not_shared_with_the_host_is_refused(sshd: Sshd) -> None:
    opts = _direct(sshd, sshd.isolated_dir, identity_file=str(sshd.isolated_key))
    with pytest.raises(CannotRunError, match="not visible here at the same path"):
        _open(opts)
    assert list(sshd.isolated_dir.iterdir()) == []


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_command_timeout_ends_the_remote_command(sshd: Sshd, tmp_path: Path, backend: str) -> None:
    target = _open(_direct(sshd, tmp_path, backend=backend))
    try:
        t0 = time.monotonic()
        with pytest.raises(TargetError, match="no answer within 1s"):
            target.run(["sleep", "30"], env={}, timeout=1)
        assert time.monotonic() - t0 < 10
    finally:
        target.close()


@pytest.mark.integration
def test_free_ports_are_never_handed_out_twice(sshd: Sshd, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = _open(_direct(sshd, tmp_path))
    try:
        monkeypatch.setattr("spdrill.targets.ssh.target.random.choice", min)  # the worst luck: always the same pick
        first, second = target.free_port(), target.free_port()
        assert first != second and 20000 <= first < 32768
    finally:
        target.close()


@pytest.mark.integration
def test_runner_for_snapshot_sources(sshd: Sshd, tmp_path: Path) -> None:
    target = _open(_direct(sshd, tmp_path, backend="paramiko"))
    try:
        runner = target.runner()
        done = runner.run(["sh", "-c", "echo 'a b'; exit 2"], timeout=10)
        assert (done.argv[0], done.returncode, done.stdout) == ("sh", 2, "a b\n")
        assert runner.run(["no-such-zfs-tool", "list"], timeout=10).returncode == 127
        assert runner.run(["sleep", "20"], timeout=1).returncode == 124
    finally:
        target.close()


@pytest.mark.integration
def test_roles_start_report_exit_and_stop(sshd: Sshd, tmp_path: Path) -> None:
    target = _open(_direct(sshd, tmp_path))
    try:
        target.spawn("daemon", ["sh", "-c", "echo started; exec sleep 300"], env={"LOTUS_X": "1"}, port=1)
        target.spawn("miner", ["sh", "-c", "echo failing; exit 7"], env={}, port=2)
        deadline = time.monotonic() + 10
        while target.exit_code("miner") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.exit_code("miner") == 7
        assert target.exit_code("daemon") is None
        # A death is noticed within the alive-cache time (one round trip per second at most).
        with (tmp_path / "spdrill-20261126T000000Z-test01" / "pids" / "daemon.pid").open() as f:
            os.killpg(int(f.read()), signal.SIGKILL)
        assert target.exit_code("daemon") is None  # still cached as running
        time.sleep(ssh_target.ALIVE_TTL_S)
        assert target.exit_code("daemon") == -1  # killed: no exit status was written
        target.spawn("daemon", ["sh", "-c", "echo started; exec sleep 300"], env={}, port=1)
        logs = target.logs()
        assert logs["daemon"].split() == ["started", "started"] and logs["miner"].strip() == "failing"
        t0 = time.monotonic()
        target.stop_processes()
        assert time.monotonic() - t0 < ssh_target.STOP_GRACE_S / 2  # SIGTERM was enough: no grace waited
        assert target.exit_code("daemon") is not None
    finally:
        target.close()


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_port_forward_reaches_a_remote_listener(sshd: Sshd, tmp_path: Path, backend: str) -> None:
    target = _open(_direct(sshd, tmp_path, backend=backend))
    try:
        port = target.free_port()
        server = ["python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)]
        target.spawn("daemon", server, env={}, port=port)
        host, local = target.endpoint("daemon", port)
        assert host == "127.0.0.1" and local != port  # through the forward, not the remote port itself

        deadline = time.monotonic() + 15
        while True:
            try:
                assert httpx.get(f"http://{host}:{local}/", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        target.close()


def test_options_are_validated_with_field_names() -> None:
    validate_target_options("ssh", {"host": "gpu1", "backend": "paramiko", "command_timeout": "5m"})
    cases: list[tuple[dict[str, Any], str]] = [
             ({}, "target.ssh.host"), ({"host": "h", "backend": "telnet"}, "target.ssh.backend"),
             ({"host": "h", "port": 70000}, "target.ssh.port"),
             ({"host": "h", "workdir": "rel"}, "target.ssh.workdir"),
             ({"host": "h", "connect_timeout": "soon"}, "target.ssh.connect_timeout"),
             ({"host": "h", "host_key_checking": "no"}, "target.ssh.host_key_checking"),
             ({"host": "h", "colour": "red"}, "target.ssh.colour")]
    for options, field in cases:
        with pytest.raises(PlanError) as err:
            validate_target_options("ssh", options)
        assert err.value.field == field


def test_direct_api_uses_the_host_address() -> None:
    assert SshTarget({"host": "gpu1", "api": "direct"}).endpoint("daemon", 1234) == ("gpu1", 1234)


def test_registry_builds_an_ssh_target() -> None:
    target = target_class("ssh")({"host": "gpu1"}, StandbySpec(bindir="/opt/lotus/bin"))
    assert isinstance(target, SshTarget) and isinstance(target, Target) and target.bindir == "/opt/lotus/bin"


def test_systemd_units_carry_env_logs_and_the_drill_name(tmp_path: Path) -> None:
    target = SshTarget({"host": "gpu1", "start": "systemd"}, StandbySpec(bindir="/opt/lotus/bin"))
    target.root, target.drill_id = tmp_path, "20261126T000000Z-abcdef"
    (tmp_path / "pids").mkdir()
    env = {"LOTUS_MINER_PATH": "/r/lotus miner", "FULLNODE_API_INFO": "secret.jwt:/ip4/127.0.0.1/tcp/1/http"}
    cmd = target._systemd_command("miner", ["lotus-miner", "run"], env)
    assert cmd.startswith("systemd-run ") and cmd.endswith("lotus-miner run")
    assert "--unit=spdrill-20261126T000000Z-abcdef-miner" in cmd
    assert f"StandardOutput=append:{tmp_path}/logs/miner.log" in cmd
    env_file = tmp_path / "pids" / "miner-unit.env"
    assert f"EnvironmentFile={env_file}" in cmd and "secret.jwt" not in cmd
    assert (env_file.stat().st_mode & 0o777) == 0o600
    lines = env_file.read_text().splitlines()
    assert "LOTUS_MINER_PATH='/r/lotus miner'" in lines and "SPDRILL_DRILL=20261126T000000Z-abcdef" in lines
    assert "PATH=/opt/lotus/bin:/usr/local/bin:/usr/bin:/bin" in lines


@pytest.mark.integration
def test_tokens_stay_off_command_lines(sshd: Sshd, tmp_path: Path) -> None:
    target = _open(_direct(sshd, tmp_path))
    try:
        secret = "eyJhbGciOiJIUzI1NiJ9.token-under-test"
        target.spawn("miner", ["sh", "-c", "echo ${MINER_API_INFO%%:*}; exec sleep 60"],
                     env={"MINER_API_INFO": f"{secret}:/ip4/127.0.0.1/tcp/1/http"}, port=1)
        res = target.run(["sh", "-c", "ps -eo args"], env={"FULLNODE_API_INFO": secret}, timeout=20)
        assert secret not in res.stdout
        deadline = time.monotonic() + 10
        while secret not in target.logs().get("miner", "") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert target.logs()["miner"].strip() == secret  # the role did get it, through its env file
    finally:
        target.close()


def test_explain_maps_client_messages() -> None:
    assert "refused our key" in str(sshconn.explain("root@h: Permission denied (publickey).", "h"))
    assert "CHANGED" in str(sshconn.explain("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!", "h"))
    assert "unknown host name" in str(sshconn.explain("ssh: Could not resolve hostname x", "h"))


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_reverse_forward_lets_roles_reach_a_harness_listener(sshd: Sshd, tmp_path: Path, backend: str) -> None:
    """The chain firewall listens here; the standby miner dials it on its own host's 127.0.0.1 (ssh -R)."""
    import http.server
    import threading

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"from-the-harness")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((SshTarget({"host": "x"}).harness_bind_host(), 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = _open(_direct(sshd, tmp_path, backend=backend))
    try:
        host, port = target.expose_harness(server.server_address[1])
        assert host == "127.0.0.1" and port != server.server_address[1]  # a port of the standby host's own
        fetch = ["python3", "-c", f"import urllib.request as u; print(u.urlopen('http://{host}:{port}/').read())"]
        res = target.run(fetch, env={}, timeout=30)
        assert res.returncode == 0 and "from-the-harness" in res.stdout, res.stderr
    finally:
        target.close()
        server.shutdown()
    # Closed with the target: nothing listens on the standby host's port any more.
    with pytest.raises(OSError):
        import socket
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
