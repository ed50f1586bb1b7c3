"""The attach target against a standby the operator started (the stand-in's daemon, miner and worker): spdrill
restores and starts nothing, and the checks about a restore point (RPO, backup, retention) are SKIP, never FAIL."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sim.simproc import Stand, make_stand

from .conftest import SPDRILL

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RESTORE_CHECKS = ("test_rpo_within_objective", "test_miner_backup_valid", "test_retention_meets_plan",
                  "test_snapshot_set_consistent", "test_restore_points_protected", "test_chain_snapshot_imported")


@pytest.fixture
def standby(tmp_path: Path) -> Iterator[Stand]:
    stand = make_stand(tmp_path / "standby", sectors=24, deadlines=3)
    assert stand.import_snapshot().returncode == 0
    try:
        stand.start_daemon()
        # puts the worker key in its daemon's wallet: PreflightChecks wants it (node/modules/storageminer.go:187-215)
        stand.start_miner("--nosync")
        stand.start_worker()
        yield stand
    finally:
        stand.stop_all()


def _api_info(repo: Path) -> str:
    return f"{(repo / 'token').read_text().strip()}:{(repo / 'api').read_text().strip()}"


def test_attach_skips_what_has_no_restore_point_and_judges_the_rest(standby: Stand, tmp_path: Path) -> None:
    plan = tmp_path / "attach.toml"
    plan.write_text('[drill]\nactor = "f01000"\n\n[target]\nkind = "attach"\n\n[standby.requirements]\n'
                    f'gpu = false\nproof_params = false\n\n[reports]\ndir = "{tmp_path / "reports"}"\n')
    env = {**standby.env, "FULLNODE_API_INFO": _api_info(standby.lotus_repo),
           "MINER_API_INFO": _api_info(standby.miner_repo)}
    done = subprocess.run([SPDRILL, "run", "--plan", str(plan)], env=env, capture_output=True, text=True,
                          timeout=240)
    record = json.loads((tmp_path / "reports" / "latest" / "drill.json").read_text())
    failed = {c["name"] for c in record["checks"] if not c["passed"]}
    ran = {c["name"] for c in record["checks"]}
    # The operator's standby holds the worker key (its lotus-miner would not start without it): the fence says
    # so, a finding (1); nothing was restored, so nothing about a restore point is judged either way.
    assert done.returncode == 1 and failed >= {"test_fence_verified"}, done.stdout + done.stderr
    assert not ran & set(RESTORE_CHECKS), sorted(ran & set(RESTORE_CHECKS))
    assert "not applicable" in str(record["facts"]["skipped_checks"])
    assert "test_daemon_synced" in ran - failed  # the rest waits on the fence, which failed
    assert "could_not_run" not in record["facts"] and "COULD NOT RUN" not in done.stdout
    for secret in (standby.lotus_repo / "token", standby.miner_repo / "token"):
        assert secret.read_text().strip() not in done.stdout + done.stderr


def test_attach_without_a_plan_drills_the_actor_its_miner_reports(tmp_path: Path) -> None:
    """No plan: the actor comes from the running lotus-miner (ActorAddress), not from the simulated demo."""
    stand = make_stand(tmp_path / "standby", sectors=24, deadlines=3, miner="f01234")
    assert stand.import_snapshot().returncode == 0
    try:
        stand.start_daemon()
        stand.start_miner("--nosync")
        env = {**stand.env, "FULLNODE_API_INFO": _api_info(stand.lotus_repo),
               "MINER_API_INFO": _api_info(stand.miner_repo)}
        done = subprocess.run([SPDRILL, "run", "--target", "attach", "--reports", str(tmp_path / "reports")],
                              env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    finally:
        stand.stop_all()
    record = json.loads((tmp_path / "reports" / "latest" / "drill.json").read_text())
    assert record["actor"] == "f01234" and record["target"] == "attach", done.stdout + done.stderr
    assert "SIMULATED restore point" not in done.stderr and "nothing is restored or started" in done.stderr
    assert done.returncode == 1  # the operator's standby holds the worker key: the fence says so


def test_attach_without_a_plan_and_without_its_api_variable_says_which(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FULLNODE_API_INFO", "MINER_API_INFO")}
    done = subprocess.run([SPDRILL, "run", "--target", "attach"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 2 and "$MINER_API_INFO" in done.stderr and "Traceback" not in done.stderr
