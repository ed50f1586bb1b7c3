"""Open-files limits for the standby roles: `lotus-worker run` only checks its soft RLIMIT_NOFILE.

Lotus cli/worker/worker.go:309-318 returns "soft file descriptor limit (ulimit -n) too low, want 100000" when
the soft limit is below build/buildconstants/limits.go:5 ``MinerFDLimit = 100_000``; it never raises it (the
daemon and the miner raise theirs: cli/lotus/daemon.go:188, cli/miner/run.go:89). So every target raises it.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from spdrill.targets import limits
from spdrill.targets.docker import DockerTarget
from spdrill.targets.docker import kit as dockerkit
from spdrill.targets.local import LocalTarget
from spdrill.targets.ssh import SshTarget
from spdrill.targets.ssh import units as sshunits

WANT = 100_000
INF = resource.RLIM_INFINITY
PRINT_NOFILE = "import resource; print('NOFILE', *resource.getrlimit(resource.RLIMIT_NOFILE), flush=True)"


def test_the_limit_is_lotus_miner_fd_limit() -> None:
    assert limits.LOTUS_WORKER_NOFILE == WANT


@pytest.mark.parametrize(("soft", "hard", "want"), [
    (1024, 1048576, WANT), (1024, 20000, 20000), (200000, 1048576, 200000), (1024, INF, WANT),
    (INF, INF, INF), (20000, 20000, 20000), (WANT, WANT, WANT)])
def test_target_soft_is_min_of_hard_and_max_of_soft_and_want(soft: int, hard: int, want: int) -> None:
    assert limits.target_soft(soft, hard) == want


@pytest.fixture
def low_soft_limit() -> Iterator[tuple[int, int]]:
    """This process with a soft limit of 1024 (as systemd and many logins give), restored afterwards."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, before[1]) if before[1] != INF else 1024, before[1]))
    try:
        yield before
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def _wait_log(target: LocalTarget, role: str, needle: str) -> str:
    for _ in range(100):
        text = target.logs().get(role, "")
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in the {role} log: {target.logs().get(role)!r}")


def test_local_worker_process_gets_the_raised_limit(tmp_path: Path, low_soft_limit: tuple[int, int]) -> None:
    hard = low_soft_limit[1]
    expected = WANT if hard == INF else min(hard, WANT)
    target = LocalTarget({"workdir": str(tmp_path)})
    target.open("nofile1")
    try:
        target.spawn("worker", [sys.executable, "-c", PRINT_NOFILE], env={}, port=0)
        text = _wait_log(target, "worker", "NOFILE ")
        line = next(ln for ln in text.splitlines() if ln.startswith("NOFILE "))
        soft_seen, hard_seen = map(int, line.split()[1:])
        assert (soft_seen, hard_seen) == (expected, hard)
        # A hard limit under 100 000 cannot be raised by an unprivileged harness: the worker log says so first.
        noted = "lotus-worker run needs a soft limit of at least 100000" in text
        assert noted == (expected < WANT)
        if noted:
            assert f"soft {expected}, hard {hard}" in text and "limits.conf" in text
    finally:
        target.close()


def test_local_target_says_so_when_the_hard_limit_is_too_low(tmp_path: Path) -> None:
    # A child with hard limit 4096 runs the harness's spawn: the note is written, the worker still starts.
    code = (
        "import resource, sys, time\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 4096))\n"
        "from spdrill.targets.local import LocalTarget\n"
        f"t = LocalTarget({{'workdir': {str(tmp_path)!r}}}); t.open('nofile2')\n"
        f"t.spawn('worker', [sys.executable, '-c', {PRINT_NOFILE!r}], env={{}}, port=0)\n"
        "for _ in range(100):\n"
        "    if 'NOFILE ' in t.logs().get('worker', ''): break\n"
        "    time.sleep(0.05)\n"
        "print(t.logs()['worker']); t.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "NOFILE 4096 4096" in out
    assert "spdrill: the open-files limit on this host is soft 4096, hard 4096" in out


def test_ssh_nohup_start_raises_the_limit_in_a_real_shell(tmp_path: Path) -> None:
    # The lines run by the remote login shell before `setsid sh -c …`; dash is Debian's /bin/sh.
    snippet = limits.nofile_shell("worker", "logs/worker.log")
    (tmp_path / "logs").mkdir()
    for hard, expected in ((4096, 4096), (None, None)):
        cap = f"; ulimit -H -n {hard}" if hard is not None else ""
        res = subprocess.run(["sh", "-c", f"ulimit -S -n 1024{cap}; {snippet}; ulimit -S -n"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=30, check=True)
        if expected is None:
            own_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            expected = WANT if own_hard == INF else min(own_hard, WANT)
        assert res.stdout.strip() == str(expected)
    log = (tmp_path / "logs" / "worker.log").read_text()
    assert "spdrill: the open-files limit on the standby host is soft 4096, hard 4096" in log
    assert "`" not in limits.short_limit_note(1, 1) and '"' not in limits.short_limit_note(1, 1)


def test_ssh_nohup_spawn_command_carries_the_ulimit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = SshTarget({"host": "gpu1"})
    target.root, target.drill_id = tmp_path, "20261126T000000Z-abcdef"
    (tmp_path / "pids").mkdir()
    sent: list[str] = []
    def sh(command: str, timeout: float) -> SimpleNamespace:
        sent.append(command)
        return SimpleNamespace(rc=0)

    monkeypatch.setattr(target, "_sh", sh)
    target.spawn("worker", ["lotus-worker", "run", "--windowpost"], env={}, port=3456)
    (command,) = sent
    assert command.index("ulimit -S -n") < command.index("setsid sh -c")


def test_systemd_unit_gets_limit_nofile(tmp_path: Path) -> None:
    cmd = sshunits.start_command(unit="spdrill-x-worker", root=tmp_path, role="worker", env_file=tmp_path / "e",
                                 argv=["lotus-worker", "run"], stop_grace_s=10)
    assert "--property=LimitNOFILE=100000" in cmd.split()


def test_docker_worker_container_gets_a_nofile_ulimit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    (ulimit,) = dockerkit.nofile_ulimits()
    assert (ulimit["Name"], ulimit["Soft"], ulimit["Hard"]) == ("nofile", WANT, WANT)
    runs: dict[str, dict[str, object]] = {}

    def run(image: str, command: object, **kwargs: object) -> object:
        runs[str(kwargs["name"]).rsplit("-", 1)[-1]] = kwargs
        return SimpleNamespace()

    target = DockerTarget({"gpus": "none"})
    target.root, target.network = tmp_path, SimpleNamespace(name="spdrill-x")
    target.subnet = ipaddress.IPv4Network("10.213.7.0/24")
    target.client = SimpleNamespace(containers=SimpleNamespace(run=run),
                                    api=SimpleNamespace(create_endpoint_config=lambda **kw: kw))
    monkeypatch.setattr(target, "publish_workspace", lambda: None)
    for role in ("worker", "daemon"):
        target.spawn(role, [f"lotus-{role}", "run"], env={}, port=1234)
    assert runs["worker"]["ulimits"] == [ulimit]  # lotus-worker only checks its limit (cli/worker/worker.go:309-318)
