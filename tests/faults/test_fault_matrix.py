"""The fault matrix: each fault, injected through the stand-in, the plan or the environment, makes the check
that guards it fail with the right exit code and message; no drill passes falsely, nothing is left behind
(processes, drill folders, containers, clones, mounts, loop devices) and the restore point is byte-identical.

FAULTS is the table (18 rows, one test each); the faults that need a real filesystem, an sshd or a signal sent
mid-drill have a test of their own below. RELIABILITY.md lists all of them with measured results.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spdrill.reaper import drill_processes

from .conftest import DrillRun, SimDrill, Sshd, leftovers, tree_digest, wait_for_line

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Setup = Callable[[SimDrill], None]


def _edit(old: str, new: str) -> Setup:
    return lambda sim: sim.edit_plan(old, new)


def _worker_never_connects(sim: SimDrill) -> None:
    """A bindir whose lotus-worker runs but never dials the miner: no WindowPoSt worker connects."""
    text = sim.plan.read_text()
    real = text.split('bindir = "', 1)[1].split('"', 1)[0]
    fake = sim.workdir / "bin-no-worker"
    fake.mkdir()
    for prog in ("lotus", "lotus-miner"):
        (fake / prog).symlink_to(Path(real) / prog)
    worker = fake / "lotus-worker"
    worker.write_text("#!/bin/sh\nexec sleep 600\n")
    worker.chmod(0o755)
    sim.edit_plan(f'bindir = "{real}"', f'bindir = "{fake}"')
    sim.edit_plan('start = "20s"', 'start = "8s"')


def _inconsistent_set(sim: SimDrill) -> None:
    """Storage from a snapshot 3 h older than the repos' (window 1 h, RPO 24 h: only the set is off)."""
    rp = sim.restore_point
    older = sim.workdir / "fixture" / "storage-snap"
    (rp / "storage").rename(older)
    stamp = older.stat().st_mtime - 3 * 3600
    os.utime(older, (stamp, stamp))
    second = (f'[[restore.source]]\nkind = "directory"\npath = "{older}"\nsingle = true\nselect = "mtime"\n'
              'mount = "storage"\n')
    sim.edit_plan("single = true\n", f'single = true\nmount = "."\n\n{second}')


@dataclass(frozen=True)
class Fault:
    """One row of the matrix."""

    name: str
    check: str  # the check that must fail ("restore" for a drill that cannot run: the phase, not a check)
    rc: int
    fragment: str  # in the failing check's message (or the restore phase's detail)
    env: dict[str, str] = field(default_factory=dict)
    fixture: tuple[str, ...] = ()
    setup: Setup | None = None
    process_env: dict[str, str] = field(default_factory=dict)
    defect: str = ""  # non-empty: a known defect, the row is a strict xfail naming it


FAULTS = [
    Fault("stale-restore-point", "test_rpo_within_objective", 1, "exceeds the objective",
          setup=_edit('rpo = "24h"', 'rpo = "1h"')),
    Fault("inconsistent-snapshot-set", "test_snapshot_set_consistent", 1, "older than",
          setup=_inconsistent_set),
    Fault("corrupt-backup", "test_miner_backup_valid", 1, "SHA-256 trailer does not match",
          fixture=("--fault", "corrupt-backup")),
    Fault("backup-trailing-bytes", "test_miner_backup_valid", 1, "trailing",
          fixture=("--fault", "backup-trailing-bytes")),
    Fault("truncated-chain-snapshot", "test_chain_snapshot_imported", 1, "import-snapshot",
          fixture=("--fault", "truncated-snapshot")),
    Fault("missing-sealed-sector", "test_sectors_provable", 1, "not provable",
          fixture=("--fault", "missing-sector")),
    Fault("truncated-sealed-sector", "test_sectors_provable", 1, "truncated",
          fixture=("--fault", "truncated-sector")),
    Fault("daemon-never-catches-up", "test_daemon_synced", 1, "chain sync: not ready",
          env={"LOTUS_SIM_NEVER_SYNC": "1"}, setup=_edit('sync = "30s"', 'sync = "4s"')),
    Fault("daemon-dies-mid-sync", "test_daemon_synced", 1, "daemon process exited",
          env={"LOTUS_SIM_EXIT_MID_SYNC": "1", "LOTUS_SIM_SYNC_RATE": "60"}),
    Fault("post-slower-than-window", "test_windowpost_dry_run", 1, "over the 1s budget",
          env={"LOTUS_SIM_POST_SECONDS_PER_PARTITION": "1.5"},
          setup=_edit('post_margin = "10m"', 'post_margin = "29m59s"')),
    Fault("no-windowpost-worker", "test_windowpost_worker_connected", 1, "worker",
          setup=_worker_never_connects),  # waits out [standby.timeouts] start, cut to 8 s in the set-up
    Fault("worker-without-gpu", "test_windowpost_worker_connected", 1, "reports no GPU",
          env={"LOTUS_SIM_NO_GPU": "1"}),
    Fault("wrong-actor-in-repo", "test_miner_identity", 1, "actor not found",
          fixture=("--fault", "wrong-actor")),
    # An actor unknown to the synced chain: the fence cannot be verified, a finding about the plan (1).
    Fault("plan-names-another-actor", "test_fence_verified", 1, "does not know the plan's [drill] actor f01001",
          setup=_edit('actor = "f01000"', 'actor = "f01001"')),
    Fault("signing-key-on-standby", "test_fence_verified", 1, "wallet holds the",
          fixture=("--fault", "keys-in-wallet")),
    Fault("miner-config-without-fence", "test_fence_verified", 1, "LOTUS_SUBSYSTEMS_DISABLEWINNINGPOST",
          env={"LOTUS_SUBSYSTEMS_DISABLEWINNINGPOST": "false"}),
    Fault("docker-engine-unreachable", "restore", 3, "no Docker engine answers",
          setup=_edit('kind = "local"\n\n[target.local]', 'kind = "docker"\n\n[target.docker]'),
          process_env={"DOCKER_HOST": "unix:///nonexistent/spdrill-fault.sock"}),
    Fault("ssh-host-unreachable", "restore", 3, "unreachable",
          setup=_edit('kind = "local"\n\n[target.local]', 'kind = "ssh"\n\n[target.ssh]\nhost = "127.0.0.1"\n'
                      'port = 9\nuser = "root"\nconnect_timeout = "3s"')),
]


def _failure_message(run: DrillRun, check: str) -> str:
    if check == "restore":
        phase = next(p for p in run.record["phases"] if p["name"] == "restore")
        assert phase["outcome"] != "ok"
        return str(phase["detail"])
    assert check in run.failed(), f"{check} did not fail; failed: {sorted(run.failed())}\n{run.stdout}"
    return str(run.check(check)["message"])


def _params() -> list[object]:
    marks = {f.name: [pytest.mark.xfail(strict=True, reason=f.defect)] if f.defect else [] for f in FAULTS}
    return [pytest.param(f, id=f.name, marks=marks[f.name]) for f in FAULTS]


@pytest.mark.parametrize("fault", _params())
def test_fault_is_detected_and_leaves_nothing(small_drill: Callable[..., SimDrill], fault: Fault,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    sim = small_drill(env=fault.env, fixture_args=fault.fixture)
    if fault.setup:
        fault.setup(sim)
    for key, value in fault.process_env.items():
        monkeypatch.setenv(key, value)
    before = tree_digest(sim.restore_point)
    run = sim.run(timeout=120)
    left = leftovers(sim.workdir, {run.record["drill_id"]})
    assert run.record["verdict"] != "pass", f"false pass: {fault.name}\n{run.stdout}"
    assert run.rc == fault.rc, f"exit {run.rc}, expected {fault.rc}\n{run.stdout}{run.stderr}"
    message = _failure_message(run, fault.check)
    assert fault.fragment in message, message
    assert "Traceback" not in run.stdout + run.stderr
    assert left == []
    assert tree_digest(sim.restore_point) == before


def _restore_failed(root: Path, run: DrillRun, rc: int, fragment: str, before: str) -> None:
    assert run.rc == rc and run.record["verdict"] != "pass", run.stdout + run.stderr
    assert fragment in _failure_message(run, "restore")
    assert "Traceback" not in run.stdout + run.stderr
    assert tree_digest(root) == before


@pytest.mark.integration
def test_unknown_ssh_host_key_is_refused(small_drill: Callable[..., SimDrill], sshd: Sshd) -> None:
    sim = small_drill()
    empty = sim.workdir / "known_hosts"
    empty.write_text("")
    sim.edit_plan('kind = "local"\n\n[target.local]',
                  f'kind = "ssh"\n\n[target.ssh]\nhost = "127.0.0.1"\nport = {sshd.port}\n'
                  f'user = "{sshd.user}"\n'
                  f'identity_file = "{sshd.client_key}"\nknown_hosts = "{empty}"\nconnect_timeout = "5s"')
    before = tree_digest(sim.restore_point)
    run = sim.run(timeout=120)
    _restore_failed(sim.restore_point, run, 3, "host key is not in known_hosts", before)
    assert leftovers(sim.workdir, {run.record["drill_id"]}) == []


@pytest.fixture
def full_pool(zfs_daemon: None, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A 64 MiB file-backed zpool (zfs-fuse's minimum) to hold a restore point; destroyed after."""
    name = f"spdf{uuid.uuid4().hex[:8]}"
    image = tmp_path / "pool.img"
    with image.open("wb") as f:
        f.truncate(64 << 20)
    mnt = tmp_path / "pool"
    subprocess.run(["zpool", "create", "-o", "cachefile=none", "-m", str(mnt), name, str(image)], check=True,
                   capture_output=True, timeout=60)
    try:
        yield name, mnt
    finally:
        for _ in range(40):  # zfs-fuse says "pool is busy" for about a second after the last file access
            done = subprocess.run(["zpool", "destroy", "-f", name], capture_output=True, timeout=60)
            if done.returncode == 0:
                break
            time.sleep(0.25)


@pytest.mark.integration
def test_disk_full_while_creating_the_workspace(small_drill: Callable[..., SimDrill],
                                                full_pool: tuple[str, Path]) -> None:
    """The source's pool is full: `zfs clone` fails, the drill cannot run (exit 3), nothing remains."""
    pool, mnt = full_pool
    sim = small_drill()
    subprocess.run(["zfs", "create", f"{pool}/rp"], check=True, timeout=60)
    subprocess.run(["cp", "-a", f"{sim.restore_point}/.", str(mnt / "rp")], check=True, timeout=120)
    subprocess.run(["zfs", "snapshot", f"{pool}/rp@nightly"], check=True, timeout=60)
    with (mnt / "fill").open("wb") as fill:  # fill the pool to the last block
        try:
            while True:
                fill.write(os.urandom(1 << 20))
                fill.flush()
        except OSError:
            pass
    text = sim.plan.read_text()
    start = text.index("[[restore.source]]")
    end = text.index("[target]")
    source = f'[[restore.source]]\nkind = "zfs"\ndataset = "{pool}/rp"\n\n'
    sim.plan.write_text(text[:start] + source + text[end:])
    before = tree_digest(mnt / "rp")
    run = sim.run(timeout=120)
    _restore_failed(mnt / "rp", run, 3, "out of space", before)
    left = [x for x in leftovers(sim.workdir, {run.record["drill_id"]}) if not x.startswith(f"mount {mnt}")]
    assert left == []


def _interrupted_drill(sim: SimDrill) -> str:
    """Start a drill whose sync never ends, press Ctrl-C once lotus-miner starts; its output."""
    proc = sim.start()
    wait_for_line(proc, "start-miner")
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 3, out
    return str(out)


def test_ctrl_c_mid_drill_tears_everything_down(small_drill: Callable[..., SimDrill]) -> None:
    sim = small_drill(env={"LOTUS_SIM_NEVER_SYNC": "1"})
    before = tree_digest(sim.restore_point)
    out = _interrupted_drill(sim)
    assert "KeyboardInterrupt" in out and "Traceback" not in out
    assert leftovers(sim.workdir) == []
    assert tree_digest(sim.restore_point) == before


def test_ctrl_c_mid_drill_is_never_recorded_as_a_pass(small_drill: Callable[..., SimDrill]) -> None:
    sim = small_drill(env={"LOTUS_SIM_NEVER_SYNC": "1"})
    out = _interrupted_drill(sim)
    record = DrillRun(3, out, "", sim.workdir / "reports").record
    assert record["verdict"] == "fail" and "INTERRUPTED" in out
    assert not any(line.startswith("spdrill drill ") and " PASS " in line for line in out.splitlines())
    assert record["rto_seconds"] is None and record["rto_met"] is not True  # no RTO from half a drill


def test_sigkill_mid_drill_is_reaped_by_the_next_run(small_drill: Callable[..., SimDrill]) -> None:
    sim = small_drill(env={"LOTUS_SIM_NEVER_SYNC": "1"})
    sim.edit_plan('sync = "30s"', 'sync = "3s"')
    before = tree_digest(sim.restore_point)
    proc = sim.start()
    wait_for_line(proc, "start-miner")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    orphans = set(drill_processes().values())
    assert orphans, "the standby should outlive a SIGKILLed harness"
    assert leftovers(sim.workdir) != []  # what the next run must clean: the fault is real
    run = sim.run(timeout=120)
    assert run.rc == 1 and "test_daemon_synced" in run.failed(), run.stdout
    assert not orphans & set(drill_processes().values())
    assert leftovers(sim.workdir) == []
    assert tree_digest(sim.restore_point) == before
