"""`spdrill run --failover` end to end against the stand-in: init restore runs only there, pushes exactly one
ChangePeerID from the worker address, and every refusal happens before anything reaches the chain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spdrill.demo import SIM_RECORDS
from spdrill.failover import CHANGE_PEER_ID

from .conftest import SimDrill

pytestmark = pytest.mark.e2e


def fixture_info(sim: SimDrill) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((sim.workdir / "fixture" / "fixture.json").read_text())
    return loaded


def import_worker_key(sim: SimDrill) -> str:
    """What the operator does before a failover: the worker key goes into the standby daemon's wallet."""
    from lotus_sim import keystore

    info = fixture_info(sim)
    address = str(info["worker"]["key"])
    exported = (sim.workdir / "fixture" / str(info["secrets"][address])).read_text()
    key = keystore.KeyInfo.from_export(exported, "worker key")
    keystore.write_key(sim.restore_point / "lotus", keystore.WALLET_PREFIX + address, key)
    return address


def pushes(sim: SimDrill, records: Path | None = None) -> list[dict]:  # type: ignore[type-arg]
    record = (records or sim.workdir / SIM_RECORDS) / "mpool-push.jsonl"
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]


@pytest.mark.expects_mpool_push
def test_failover_pushes_exactly_one_change_peer_id_and_records_its_cid(
        sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    worker_key = import_worker_key(sim)
    run = sim.run("--failover", "--confirm-failover", "f01000")
    assert run.rc == 0, run.stdout + run.stderr
    rec = run.record
    cid = rec["facts"]["failover_change_peer_id_cid"]
    assert rec["facts"]["mode"] == "failover" and cid.startswith("b")
    phases = {p["name"]: p for p in rec["phases"]}
    assert phases["init-restore"]["outcome"] == "ok" and phases["init-restore"]["start"] >= phases["fence"]["end"]
    assert phases["init-restore"]["after"] == ["fence", "sync"] and phases["init-restore"]["facts"]["nosync"] is False
    assert phases["start-miner"]["start"] >= phases["init-restore"]["end"]
    assert run.check("test_miner_repo_made_by_init_restore")["passed"]
    # the mpool guard: exactly one message, ChangePeerID to the actor, from the worker address
    info = fixture_info(sim)
    [msg] = pushes(sim)
    assert msg["method"] == CHANGE_PEER_ID and msg["to"] == "f01000" and msg["accepted"] is True
    assert msg["from"] == info["worker"]["id"] and msg["key"] == worker_key
    # the evidence says FAILOVER MODE and what the operator does next
    assert f"FAILOVER MODE: not a drill. lotus-miner init restore ran and pushed ChangePeerID {cid}" in run.stdout
    assert "next step:" in run.stdout and "DisableWinningPoSt = false" in run.stdout
    html = (run.reports / "latest" / "report.html").read_text()
    assert 'id="failover-banner"' in html and cid in html
    from junitparser import JUnitXml  # what a CI dashboard reads: the run's mode, beside `simulated`

    suite = next(iter(JUnitXml.fromfile(str(run.reports / "latest" / "junit-drill.xml"))))
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert props["mode"] == "failover"
    assert "worker key" in rec["fence"] and "owner key absent" in rec["fence"]


def test_ordinary_drill_never_runs_init_restore(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    import_worker_key(sim)  # even a standby that could sign: the ordinary drill refuses it, never pushes
    run = sim.run()
    assert run.rc == 1, run.stdout + run.stderr
    rec = run.record
    assert "init-restore" not in {p["name"] for p in rec["phases"]}
    assert "mode" not in rec["facts"] and "FAILOVER" not in run.stdout
    assert "test_miner_repo_made_by_init_restore" not in {c["name"] for c in rec["checks"]}  # deselected
    assert pushes(sim) == []


@pytest.mark.parametrize(("args", "needle"), [
    (("--failover",), "--failover needs --confirm-failover f01000"),
    (("--failover", "--confirm-failover", "f01001"), "does not match the plan's [drill] actor f01000"),
    (("--confirm-failover", "f01000"), "given without --failover"),
    (("--failover", "--confirm-failover", "f01000", "--candidate", "bin=/nonexistent"), "--candidate"),
    (("--failover", "--confirm-failover", "f01000", "--target", "attach"), "attach target"),
])
def test_unconfirmed_failover_is_exit_2_before_anything_runs(sim_drill: Callable[..., SimDrill],
                                                             args: tuple[str, ...], needle: str) -> None:
    sim = sim_drill()
    import_worker_key(sim)
    run = sim.run(*args)
    assert run.rc == 2, run.stdout + run.stderr
    assert needle in run.stderr and "Traceback" not in run.stderr
    if "--confirm-failover" not in args or "f01001" in args:
        assert "ChangePeerID" in run.stderr and "#7014" in run.stderr and "Stop the live lotus-miner" in run.stderr
    assert not (run.reports / "latest").exists() and pushes(sim) == []


@pytest.mark.expects_mpool_push
def test_failover_refused_when_the_worker_key_is_not_in_the_standby_wallet(
        sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    worker_key = str(fixture_info(sim)["worker"]["key"])
    run = sim.run("--failover", "--confirm-failover", "f01000")
    assert run.rc == 1, run.stdout + run.stderr
    fence = run.check("test_fence_verified")
    assert not fence["passed"] and f"lacks the worker key of the miner ({worker_key})" in fence["message"]
    assert "Import the worker key into the standby wallet" in fence["message"]
    phases = {p["name"]: p for p in run.record["phases"]}
    assert phases["init-restore"]["outcome"] == "blocked"
    assert pushes(sim) == []


@pytest.mark.expects_mpool_push
def test_failed_init_restore_names_the_half_initialised_repo_and_teardown_removes_it(
        sim_drill: Callable[..., SimDrill], tmp_path: Path) -> None:
    # The daemon cannot record (so cannot accept) the push: init restore fails after it initialised the repo.
    (tmp_path / "blocker").write_text("a file where the stand-in's record folder would go\n")
    sim = sim_drill(env={"LOTUS_SIM_RECORD_DIR": str(tmp_path / "blocker" / "records")})
    import_worker_key(sim)
    run = sim.run("--failover", "--confirm-failover", "f01000")
    assert run.rc == 1, run.stdout + run.stderr
    phases = {p["name"]: p for p in run.record["phases"]}
    detail = phases["init-restore"]["detail"]
    assert phases["init-restore"]["outcome"] == "failed", detail
    assert "lotus-miner init restore failed (exit 1)" in detail and "half-initialised miner repo" in detail
    assert phases["start-miner"]["outcome"] == "blocked"
    assert "half-initialised" in run.check("test_miner_repo_made_by_init_restore")["message"]
    assert "failover_change_peer_id_cid" not in run.record["facts"]
    # the sim_drill fixture asserts the drill folder (the half-initialised repo with it) is gone


@pytest.mark.expects_mpool_push
def test_miner_config_is_read_back_after_init_restore(sim_drill: Callable[..., SimDrill], tmp_path: Path) -> None:
    """A Lotus whose init restore drops [Subsystems] from --config: the standby must not start mining."""
    sim = sim_drill()
    import_worker_key(sim)
    real = next(line.split('"')[1] for line in sim.plan.read_text().splitlines() if line.startswith("bindir"))
    bindir = tmp_path / "lotus-dropping-subsystems"
    bindir.mkdir()
    for name in ("lotus", "lotus-worker"):
        (bindir / name).symlink_to(Path(real) / name)
    wrapper = bindir / "lotus-miner"
    wrapper.write_text(f'#!/bin/sh\n"{real}/lotus-miner" "$@" || exit $?\nif [ "$1 $2" = "init restore" ]; then\n'
                       '  sed -i "s/DisableWinningPoSt = true/DisableWinningPoSt = false/" '
                       '"$LOTUS_MINER_PATH/config.toml"\nfi\n')
    wrapper.chmod(0o755)
    sim.edit_plan(f'bindir = "{real}"', f'bindir = "{bindir}"')
    run = sim.run("--failover", "--confirm-failover", "f01000")
    assert run.rc == 1, run.stdout + run.stderr
    phases = {p["name"]: p for p in run.record["phases"]}
    assert phases["init-restore"]["outcome"] == "failed"
    assert "DisableWinningPoSt = False, need true" in phases["init-restore"]["detail"]
    assert phases["start-miner"]["outcome"] == "blocked"
    assert run.record["facts"]["failover_change_peer_id_cid"]  # the message went out all the same: on record


@pytest.mark.parametrize(("fixture_args", "plan_edit", "needle"), [
    (("--fault", "wrong-actor"), None, "is of miner f02000, not the confirmed actor f01000"),
    (("--fault", "corrupt-backup"), None, "is not usable"),
    ((), ("[target]", '[restore.layout]\nminer_backup = "none/*.cbor"\n\n[target]'), "no metadata backup matching"),
])
def test_unusable_backup_is_refused_before_init_restore(sim_drill: Callable[..., SimDrill],
                                                        fixture_args: tuple[str, ...],
                                                        plan_edit: tuple[str, str] | None, needle: str) -> None:
    sim = sim_drill(fixture_args=fixture_args)
    if plan_edit:
        sim.edit_plan(*plan_edit)
    import_worker_key(sim)
    run = sim.run("--failover", "--confirm-failover", "f01000")
    assert run.rc == 1, run.stdout + run.stderr
    phases = {p["name"]: p for p in run.record["phases"]}
    assert phases["init-restore"]["outcome"] == "failed" and needle in phases["init-restore"]["detail"]
    assert "init restore was not run" in phases["init-restore"]["detail"]
    assert pushes(sim) == []


@pytest.mark.expects_mpool_push
def test_plan_nosync_runs_init_restore_without_waiting_for_sync(sim_drill: Callable[..., SimDrill]) -> None:
    sim = sim_drill()
    sim.edit_plan("[target]", "[failover]\nnosync = true\n\n[target]")
    import_worker_key(sim)
    run = sim.run("--failover", "--confirm-failover", "f01000")
    assert run.rc == 0, run.stdout + run.stderr
    init = next(p for p in run.record["phases"] if p["name"] == "init-restore")
    assert init["after"] == ["fence"] and init["facts"]["nosync"] is True
