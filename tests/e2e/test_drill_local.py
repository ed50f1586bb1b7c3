"""A drill of the simulated stack on the local target: it passes when it should, and each check fails on the
fault it guards, with the right exit code, leaving nothing behind and the restore point untouched."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from junitparser import JUnitXml

from .conftest import SimDrill, _cwd, wait_for_line

pytestmark = pytest.mark.e2e

READINESS = {"test_chain_snapshot_imported", "test_daemon_synced", "test_fence_verified", "test_miner_identity",
             "test_storage_attached", "test_windowpost_worker_connected", "test_sectors_provable",
             "test_windowpost_dry_run", "test_every_live_sector_provable"}


def tree_digest(root: Path) -> str:
    """Hash of every file's path, mode, size and bytes under root (the restore point must not change)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        h.update(f"{p.relative_to(root)}:{st.st_mode}:{st.st_size}:{int(st.st_mtime)}".encode())
        if p.is_file() and not p.is_symlink():
            h.update(p.read_bytes())
    return h.hexdigest()


def test_drill_passes_and_leaves_evidence(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    before = tree_digest(sim.restore_point)
    run = sim.run()
    assert run.rc == 0, run.stdout + run.stderr
    assert "PASS" in run.stdout and "SIMULATED" in run.stdout
    assert "critical path: restore" in run.stdout
    rec = run.record
    assert rec["simulated"] is True and rec["verdict"] == "pass"
    assert {c["name"] for c in rec["checks"] if c["kind"] == "readiness"} == READINESS
    assert rec["rto_seconds"] > 0 and rec["critical_path"][0] == "restore"
    # the daemon branch and the worker branch overlapped
    phases = {p["name"]: p for p in rec["phases"]}
    assert phases["start-worker"]["start"] < phases["import-chain"]["end"]
    # both JUnit files, read by an independent consumer
    drill_xml = JUnitXml.fromfile(str(run.reports / "latest" / "junit-drill.xml"))
    suite = next(iter(drill_xml))
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert float(props["rto_seconds"]) == pytest.approx(rec["rto_seconds"], abs=1e-3)
    assert props["simulated"] == "true" and props["actor"] == "f01000" and props["mode"] == "drill"
    assert {c.name for c in suite} >= {"sync", "post-dry-run", "test_daemon_synced"}
    assert suite.skipped == 7 == rec["facts"]["checks_skipped"]  # the drill JUnit lists skipped checks too
    pytest_xml = JUnitXml.fromfile(str(run.reports / "latest" / "junit-pytest.xml"))
    suites = list(pytest_xml)
    assert sum(s.tests for s in suites) == 22 and sum(s.skipped for s in suites) == 7  # host checks, holds
    assert tree_digest(sim.restore_point) == before
    # lotus-miner started with no key in the standby wallet: the chain firewall answered PreflightChecks'
    # WalletHas(worker key) (node/modules/storageminer.go:187-215) and refused every push its own WindowPoSt
    # scheduler tried (wdpost_changehandler.go:454-488); the evidence counts what the miner log shows.
    facts = rec["facts"]
    assert "answered WalletHas(worker key" in str(facts["chain_firewall"]) and "true 1 time" in str(
        facts["chain_firewall"])
    miner_log = (run.reports / "latest" / "logs" / "miner.log").read_text()
    assert "key for worker not found" not in miner_log and "starting up miner f01000" in miner_log
    refused = miner_log.count("spdrill chain firewall: MpoolPushMessage refused")
    assert facts["chain_firewall_refused"] == refused
    if refused:
        assert f"MpoolPushMessage x{refused}" in str(facts["chain_firewall_refused_methods"])


@pytest.mark.parametrize(("env", "plan_edit", "failing", "needle"), [
    ({"LOTUS_SIM_NEVER_SYNC": "1"}, ('sync = "2m"', 'sync = "4s"'), "test_daemon_synced", "chain sync: not ready"),
    ({"LOTUS_SIM_NO_GPU": "1"}, None, "test_windowpost_worker_connected", "reports no GPU"),
    ({"LOTUS_SIM_POST_SECONDS_PER_PARTITION": "3"}, ('post_margin = "10m"', 'post_margin = "29m57s"'),
     "test_windowpost_dry_run", "over the 3s budget"),
    ({}, ('rto = "10m"', 'rto = "1s"'), "test_rto_within_objective", "exceeds the objective"),
    ({}, ('rpo = "24h"', 'rpo = "1s"'), "test_rpo_within_objective", "exceeds the objective"),
    ({}, ("[target]", "[restore.retention]\nmin_count = 3\n\n[target]"), "test_retention_meets_plan",
     "plan asks for at least 3"),
])
def test_runtime_faults_fail_their_check(sim_drill: Callable[..., SimDrill], env: dict[str, str],
                                         plan_edit: tuple[str, str] | None, failing: str, needle: str) -> None:
    sim = sim_drill(env=env)
    if plan_edit:
        sim.edit_plan(*plan_edit)
    run = sim.run()
    assert run.rc == 1, run.stdout + run.stderr
    assert failing in run.failed(), run.stdout
    assert needle in run.check(failing)["message"]
    if failing.startswith("test_r"):  # an objective: every readiness check still passed
        assert not (run.failed() & READINESS)


def test_daemon_dying_mid_sync_is_noticed_at_once(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill(env={"LOTUS_SIM_EXIT_MID_SYNC": "1", "LOTUS_SIM_SYNC_RATE": "20"},
                    fixture_args=("--snapshot-age", "6h"))
    run = sim.run()
    assert run.rc == 1
    msg = run.check("test_daemon_synced")["message"]
    assert "daemon process exited" in msg
    sync = next(p for p in run.record["phases"] if p["name"] == "sync")
    assert sync["end"] - sync["start"] < 60  # not the 2m timeout


def test_missing_sealed_sector_fails_provability(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    sealed = sorted(sim.restore_point.glob("storage/*/sealed/s-t01000-*"))
    victim = sealed[len(sealed) // 2]
    number = int(victim.name.rsplit("-", 1)[1])
    victim.unlink()
    run = sim.run()
    assert run.rc == 1
    assert f"sector {number}:" in run.check("test_sectors_provable")["message"]


def test_truncated_chain_snapshot_fails_import(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    car = next(sim.restore_point.glob("chain/*.car*"))
    car.write_bytes(car.read_bytes()[: car.stat().st_size // 2])
    run = sim.run()
    assert run.rc == 1
    assert "test_chain_snapshot_imported" in run.failed()
    assert "import-snapshot" in run.check("test_chain_snapshot_imported")["message"]


def test_wrong_actor_fails_identity(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    sim.edit_plan('actor = "f01000"', 'actor = "f01001"')
    run = sim.run()
    assert run.rc == 1, run.stdout + run.stderr  # the daemon answered: a finding, never "could not run"
    assert "test_miner_identity" in run.failed()


def test_worker_key_on_standby_stops_before_miner_starts(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill(fixture_args=("--fault", "keys-in-wallet"))
    run = sim.run()
    assert run.rc == 1
    msg = run.check("test_fence_verified")["message"]
    assert "wallet holds the" in msg and " key of the miner (f" in msg
    assert "blocked: fence failed" in run.check("test_miner_identity")["message"]
    assert not (run.reports / "latest" / "logs" / "miner.log").exists()
    secrets = [bytes.fromhex(p.read_text().strip()) for p in (sim.workdir / "fixture" / "secrets").iterdir()]
    blob = run.stdout + run.stderr + "".join(p.read_text() for p in (run.reports / "latest").rglob("*") if p.is_file())
    for s in secrets:
        assert s.decode() not in blob


def test_fence_env_override_stops_drill(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill(env={"LOTUS_SUBSYSTEMS_DISABLEWINNINGPOST": "false"})
    run = sim.run()
    assert run.rc == 1
    assert "LOTUS_SUBSYSTEMS_DISABLEWINNINGPOST" in run.check("test_fence_verified")["message"]


def test_bad_plan_exits_2_without_traceback(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    sim.edit_plan('rto = "10m"', 'rto = "10 minutes"')
    run = sim.run()
    assert run.rc == 2
    assert "objectives.rto" in run.stderr and "Traceback" not in run.stderr + run.stdout


def test_attach_target_unreachable_exits_3(sim_drill: Callable[..., SimDrill],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sim = sim_drill()
    token = "eyJhbGciOiJIUzI1NiJ9.eyJBbGxvdyI6WyJyZWFkIl19.c2lnbmF0dXJl"
    monkeypatch.setenv("FULLNODE_API_INFO", f"{token}:/ip4/127.0.0.1/tcp/9/http")
    monkeypatch.setenv("MINER_API_INFO", f"{token}:/ip4/127.0.0.1/tcp/9/http")
    run = sim.run("--target", "attach")
    assert run.rc == 3, run.stdout + run.stderr
    assert "c2lnbmF0dXJl" not in run.stdout + run.stderr


def test_ctrl_c_tears_down(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill(env={"LOTUS_SIM_NEVER_SYNC": "1"})
    before = tree_digest(sim.restore_point)
    proc = sim.start()
    wait_for_line(proc, "start-miner")
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 3, out  # interrupted: the drill could not finish (docs/exit-codes.md)
    assert tree_digest(sim.restore_point) == before
    record = json.loads((sim.workdir / "reports" / "latest" / "drill.json").read_text())
    assert record["verdict"] == "fail" and record["facts"]["interrupted"] is True  # half a drill is no pass
    assert "INTERRUPTED" in out


def test_sigkilled_harness_leftovers_are_reaped_by_the_next_run(sim_drill: Callable[..., SimDrill]) -> None:
    from spdrill.reaper import drill_processes

    sim = sim_drill(env={"LOTUS_SIM_NEVER_SYNC": "1"})
    sim.edit_plan('sync = "2m"', 'sync = "3s"')
    proc = sim.start()
    wait_for_line(proc, "start-miner")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    def ours() -> set[str]:  # other drills may run on this machine at the same time: look at this one's only
        return {d for pid, d in drill_processes().items() if str(sim.workdir) in _cwd(pid)}

    orphans = ours()
    assert orphans, "the standby should outlive a SIGKILLed harness"
    run = sim.run()  # its target reaps what the dead harness left, then drills
    assert run.rc == 1
    assert not (orphans & ours())
    assert len(list((sim.workdir / "run").iterdir())) == 0


def test_candidate_lotus_regression_is_reported(sim_drill: Callable[..., SimDrill], tmp_path: Path) -> None:
    """Pre-change validation: a candidate whose worker lost its GPU is compared against the baseline."""
    sim = sim_drill()
    import re

    baseline_bin = re.search(r'bindir = "(.*)"', sim.plan.read_text())
    assert baseline_bin is not None
    candidate = tmp_path / "candidate-bin"
    candidate.mkdir()
    for prog in ("lotus", "lotus-miner", "lotus-worker"):
        extra = "LOTUS_SIM_NO_GPU=1 " if prog == "lotus-worker" else ""
        script = candidate / prog
        script.write_text(f'#!/bin/sh\n{extra}exec "{baseline_bin.group(1)}/{prog}" "$@"\n')
        script.chmod(0o755)
    run = sim.run("--candidate", f"bin={candidate}")
    assert run.rc == 1, run.stdout + run.stderr
    assert "pre-change validation: baseline" in run.stdout
    assert "REGRESSION" in run.stdout and "test_windowpost_worker_connected" in run.stdout
    compare = next(run.reports.glob("*/compare.html"))
    assert "test_windowpost_worker_connected" in compare.read_text() or "WindowPoSt worker" in compare.read_text()


@pytest.mark.parametrize(("fault", "needle"), [("corrupt-backup", "SHA-256 trailer does not match"),
                                               ("backup-trailing-bytes", "trailing")])
def test_broken_metadata_backup_fails_the_backup_check(sim_drill: Callable[..., SimDrill], fault: str,
                                                       needle: str) -> None:
    sim = sim_drill(fixture_args=("--fault", fault))
    run = sim.run()
    assert run.rc == 1
    assert run.failed() == {"test_miner_backup_valid"}, run.stdout
    assert needle in run.check("test_miner_backup_valid")["message"]
    assert run.record["verdict"] == "fail"


def test_standby_scheduler_pushes_are_refused_and_in_the_evidence(sim_drill: Callable[..., SimDrill]) -> None:
    """The standby miner's own WindowPoSt scheduler tries to submit (node/builder_miner.go:99,
    node/modules/storageminer.go:294-302, wdpost_changehandler.go:454-488); nothing reaches the chain."""
    # Sectors in every deadline and a chain that takes ~8 s to catch up: the head crosses several proving
    # windows while the miner runs, and the scheduler submits in each one it sees past Open+4.
    sim = sim_drill(env={"LOTUS_SIM_SYNC_RATE": "30"}, sectors=96, deadlines=48)
    run = sim.run()
    assert run.rc == 0, run.stdout + run.stderr
    facts = run.record["facts"]
    refused = int(facts["chain_firewall_refused"])
    assert refused > 0, facts["chain_firewall"]
    assert "all refused by the chain firewall" in str(facts["chain_firewall"])
    assert "MpoolPushMessage" in str(facts["chain_firewall_refused_methods"])
    miner_log = (run.reports / "latest" / "logs" / "miner.log").read_text()
    assert miner_log.count("spdrill chain firewall: MpoolPushMessage refused") == refused
    # The report a customer reads says so too.
    assert "all refused by the chain firewall" in (run.reports / "latest" / "report.html").read_text()


def test_a_keyword_selection_is_judged_on_the_checks_it_selects(sim_drill: Callable[..., SimDrill]) -> None:
    """`-k chain`: the two chain checks pass, the rest of the bring-up is torn down when they are done; the
    record counts the selected checks (not all 22 collected), so its verdict and the exit code agree."""
    run = sim_drill().run("-k", "chain")
    record = run.record
    assert {c["name"] for c in record["checks"]} == {"test_chain_snapshot_imported", "test_daemon_synced"}
    assert record["facts"]["checks_expected"] == 2
    assert (run.rc, record["verdict"]) == (0, "pass"), run.stdout + run.stderr


def test_a_head_that_never_moves_fails_sync_at_the_stall_limit(sim_drill: Callable[..., SimDrill]) -> None:
    """The stand-in's head never moves (LOTUS_SIM_NEVER_SYNC): with a 2 min sync timeout and a 3 s stall, the
    sync check fails within the stall, naming the stuck height and how far behind it is."""
    sim = sim_drill(env={"LOTUS_SIM_NEVER_SYNC": "1"})
    sim.edit_plan('sync = "2m"', 'sync = "2m"\nstall = "3s"')
    run = sim.run()
    assert run.rc == 1, run.stdout + run.stderr
    message = run.check("test_daemon_synced")["message"]
    assert "head stuck at height" in message and "epochs behind" in message and "raise [standby.timeouts] stall" \
        in message, message
    sync = next(p for p in run.record["phases"] if p["name"] == "sync")
    assert sync["outcome"] == "failed" and sync["end"] - sync["start"] < 30  # not the 2 min timeout


def test_a_drill_that_cannot_start_shows_one_root_cause(sim_drill: Callable[..., SimDrill]) -> None:
    """The standby host does not answer: the summary names that cause once; every check is SKIP "not run",
    none FAIL with the cause pasted in; exit 3; the record and both JUnit files agree."""
    sim = sim_drill()
    sim.edit_plan('kind = "local"\n\n[target.local]', 'kind = "ssh"\n\n[target.ssh]\nhost = "127.0.0.1"\n'
                  'port = 9\nuser = "root"\nconnect_timeout = "3s"')
    run = sim.run()
    assert run.rc == 3, run.stdout + run.stderr
    assert run.stdout.count("COULD NOT RUN: ") == 1 and "  FAIL  " not in run.stdout, run.stdout
    record = run.record
    cause = record["facts"]["could_not_run"]
    assert "127.0.0.1" in cause and record["checks"] == [] and record["verdict"] == "fail"
    assert record["facts"]["checks_skipped"] == record["facts"]["checks_expected"] == 22
    assert str(record["facts"]["skipped_checks"]).count(f"not run: {cause}") >= 15  # the rest are plan-off
    checks = list(JUnitXml.fromfile(str(run.reports / "latest" / "junit-pytest.xml")))
    assert sum(s.failures + s.errors for s in checks) == 0 and sum(s.skipped for s in checks) == 22
    (drill_suite,) = list(JUnitXml.fromfile(str(run.reports / "latest" / "junit-drill.xml")))
    assert drill_suite.failures == 1  # the restore phase: the cause, once; every other stage blocked, not failed
    assert drill_suite.skipped == 22 + len(record["phases"]) - 1
