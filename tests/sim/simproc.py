"""Test helpers that run the stand-in's real programs (through `lotus-sim bindir` launchers) on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lotus_sim.bindir import ensure_bindir
from lotus_sim.fixture import FixtureSpec, make_fixture
from lotus_sim.rpcclient import RpcClient, parse_api_info

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@dataclass
class Proc:
    """One started program: its process, repo and captured output files."""

    name: str
    popen: subprocess.Popen[bytes]
    repo: Path
    log: Path

    def output(self) -> str:
        """What the program wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Signal the program and wait for it; returns its exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return int(self.popen.returncode)


@dataclass
class Stand:
    """A fixture restore point plus the programs started from a workspace copy of it."""

    root: Path
    info: dict[str, Any]
    bindir: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)

    @property
    def lotus_repo(self) -> Path:
        return Path(self.env["LOTUS_PATH"])

    @property
    def miner_repo(self) -> Path:
        return Path(self.env["LOTUS_MINER_PATH"])

    @property
    def worker_repo(self) -> Path:
        return Path(self.env["LOTUS_WORKER_PATH"])

    @property
    def snapshot(self) -> Path:
        return self.root / str(self.info["snapshot"]["path"])

    def run(self, program: str, *args: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run one CLI command to completion."""
        return subprocess.run([str(self.bindir / program), *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)

    def _start(self, name: str, program: str, args: list[str], repo: Path, env: dict[str, str] | None,
               wait_api: bool) -> Proc:
        log = self.root / f"{name}-{len(self.procs)}.log"
        handle = log.open("wb")
        popen = subprocess.Popen([str(self.bindir / program), *args], env={**self.env, **(env or {})},
                                 stdout=handle, stderr=subprocess.STDOUT)
        handle.close()
        proc = Proc(name, popen, repo, log)
        self.procs.append(proc)
        if wait_api:
            deadline = time.monotonic() + 20
            while not (repo / "api").exists():
                if popen.poll() is not None:
                    raise AssertionError(f"{name} exited with {popen.returncode}:\n{proc.output()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} wrote no api file in 20 s:\n{proc.output()}")
                time.sleep(0.02)
        return proc

    def import_snapshot(self, snapshot: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`lotus daemon --import-snapshot ... --halt-after-import` into the workspace daemon repo."""
        source = str(snapshot or self.snapshot)
        return self.run("lotus", "daemon", "--import-snapshot", source, "--halt-after-import")

    def start_daemon(self, *flags: str, env: dict[str, str] | None = None, wait_api: bool = True) -> Proc:
        """Start `lotus daemon --api 0` (a free port) and wait for its api file."""
        args = ["daemon", "--api", "0", *flags]
        return self._start("daemon", "lotus", args, self.lotus_repo, env, wait_api)

    def plant_worker_key(self) -> str:
        """Put the fixture's worker key into the daemon's wallet (as `lotus wallet import` would)."""
        from lotus_sim import keystore

        exported = next((self.root / "secrets").glob("worker-*.key")).read_text().strip()
        address = str(self.info["worker"]["key"])
        keystore.write_key(self.lotus_repo, f"wallet-{address}", keystore.KeyInfo.from_export(exported))
        return address

    def start_miner(self, *flags: str, env: dict[str, str] | None = None, wait_api: bool = True,
                    worker_key: bool = True) -> Proc:
        """Start `lotus-miner run --miner-api 0` and wait for its api file.

        With `worker_key` the worker key goes into the daemon's wallet first: lotus-miner's PreflightChecks
        refuses to start without it (lotus node/modules/storageminer.go:187-215).
        """
        if worker_key:
            self.plant_worker_key()
        # A free port, and [API] RemoteListenAddress pointed at it: PoSt workers fetch vanilla proofs there
        # (lotus node/builder.go:290-295), and the fixture's production value 127.0.0.1:2345 is not this miner.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {"LOTUS_API_REMOTELISTENADDRESS": f"127.0.0.1:{port}", **(env or {})}
        return self._start("miner", "lotus-miner", ["run", "--miner-api", str(port), *flags], self.miner_repo,
                           env, wait_api)

    def start_worker(self, *flags: str, env: dict[str, str] | None = None, wait_api: bool = True) -> Proc:
        """Start `lotus-worker run --windowpost` on a free port; MINER_API_INFO comes from the miner repo."""
        token = (self.miner_repo / "token").read_text().strip()
        api = (self.miner_repo / "api").read_text().strip()
        env = {"MINER_API_INFO": f"{token}:{api}", **(env or {})}
        args = ["run", "--windowpost", "--listen", "127.0.0.1:0", *flags]
        return self._start("worker", "lotus-worker", args, self.worker_repo, env, wait_api)

    def client(self, repo: Path, version: str = "v0", token: str | None = None) -> RpcClient:
        """A client for a running node; the repo's admin token unless `token` is given."""
        info = parse_api_info(f"{(repo / 'token').read_text().strip()}:{(repo / 'api').read_text().strip()}")
        return RpcClient(info.url(version), info.token if token is None else token)

    def daemon(self, version: str = "v1", token: str | None = None) -> RpcClient:
        return self.client(self.lotus_repo, version, token)

    def miner(self, token: str | None = None) -> RpcClient:
        return self.client(self.miner_repo, "v0", token)

    def worker(self, token: str | None = None) -> RpcClient:
        return self.client(self.worker_repo, "v0", token)

    def records(self) -> list[dict[str, Any]]:
        """The daemon's mpool-push records."""
        path = self.lotus_repo / "sim-records" / "mpool-push.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def fault(self, spec: str) -> None:
        """Apply a file fault with `lotus-sim fault`, then refresh the workspace repos and fixture.json."""
        import shutil
        import sys

        result = subprocess.run([sys.executable, "-m", "lotus_sim.cli", "fault", str(self.root), spec],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        for repo, name in ((self.lotus_repo, "lotus"), (self.miner_repo, "lotus-miner")):
            shutil.rmtree(repo)
            shutil.copytree(self.root / "restore-point" / name, repo)
        self.info = json.loads((self.root / "fixture.json").read_text())

    def stop_all(self) -> None:
        """Stop every started program, newest first."""
        for proc in reversed(self.procs):
            proc.stop()


def make_stand(base: Path, sectors: int = 24, deadlines: int = 3, **spec: Any) -> Stand:
    """A fresh fixture under `base` and a workspace env (copies of the repos) to run programs in."""
    import shutil

    root = base / "fx"
    info = make_fixture(root, FixtureSpec(sectors=sectors, deadlines=deadlines, **spec))
    work = base / "work"
    shutil.copytree(root / "restore-point" / "lotus", work / "lotus")
    shutil.copytree(root / "restore-point" / "lotus-miner", work / "lotus-miner")
    ours = ("LOTUS_", "FULLNODE_", "MINER_", "WORKER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update({"LOTUS_PATH": str(work / "lotus"), "LOTUS_MINER_PATH": str(work / "lotus-miner"),
                "LOTUS_WORKER_PATH": str(work / "worker"), "LOTUS_SIM_POST_SECONDS_PER_PARTITION": "0.01",
                # Hosts whose hard RLIMIT_NOFILE is below Lotus's 100000 could start no worker at all;
                # test_worker_fd_limit.py checks the refusal itself.
                "LOTUS_SIM_WORKER_FD_MIN": "0"})
    return Stand(root, info, ensure_bindir(base / "cache"), env)
