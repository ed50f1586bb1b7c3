"""Failover mode's pure parts: the confirmation logic, the stage graph, the inverted wallet fence, init restore's
argv and output, the plan key, and the FAILOVER MODE banner in the summary and the HTML report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from spdrill import failover
from spdrill.bringup import GRAPH
from spdrill.errors import DrillError, PlanError, SafetyError, UsageError
from spdrill.evidence.html import render_html
from spdrill.plan import parse_plan
from spdrill.summary import render_summary
from tests.evidence.conftest import make_journal

ACTOR = "f01000"
OWNER, WORKER, CONTROL = "f3owner", "f3worker", "f3control"
CID = "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"


def test_ordinary_request_is_none() -> None:
    assert failover.request(failover=False, confirm=None, actor=ACTOR) is None


def test_confirmed_request() -> None:
    mode = failover.request(failover=True, confirm=" f01000", actor=ACTOR, target="local", nosync=True)
    assert mode == failover.FailoverMode(actor=ACTOR, nosync=True)


def test_missing_confirmation_says_what_happens_on_chain_and_what_to_type() -> None:
    with pytest.raises(UsageError) as exc:
        failover.request(failover=True, confirm=None, actor=ACTOR)
    msg = str(exc.value)
    assert exc.value.exit_code == 2
    for needle in ("ChangePeerID", "worker address", "#7014", "Stop the live lotus-miner",
                   "--failover --confirm-failover f01000"):
        assert needle in msg, needle


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"failover": True, "confirm": "f01001"}, "does not match the plan's [drill] actor f01000"),
    ({"failover": True, "confirm": "f010000"}, "does not match"),
    ({"failover": True, "confirm": ""}, "does not match"),
    ({"failover": False, "confirm": ACTOR}, "given without --failover"),
    ({"failover": True, "confirm": ACTOR, "candidate": "bin=/x"}, "--candidate"),
    ({"failover": True, "confirm": ACTOR, "target": "attach"}, "attach target"),
])
def test_ambiguous_requests_are_usage_errors(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError, match=None) as exc:
        failover.request(actor=ACTOR, **kwargs)  # type: ignore[arg-type]
    assert needle in str(exc.value)


def test_ordinary_graph_has_no_init_restore() -> None:
    assert "init-restore" not in GRAPH
    assert GRAPH["start-miner"][1] == ("fence",)


@pytest.mark.parametrize(("nosync", "after"), [(False, ("fence", "sync")), (True, ("fence",))])
def test_failover_graph(nosync: bool, after: tuple[str, ...]) -> None:
    graph = failover.failover_graph(GRAPH, nosync)
    assert graph["init-restore"][:2] == ("miner", after)
    assert graph["start-miner"][:2] == ("miner", ("init-restore",))
    assert graph["start-worker"][:2] == ("worker", ("start-miner",))
    names = list(graph)
    assert names.index("fence") < names.index("init-restore") < names.index("start-miner")
    assert {k: v for k, v in graph.items() if k not in ("init-restore", "start-miner", "start-worker")} == \
        {k: v for k, v in GRAPH.items() if k not in ("start-miner", "start-worker")}


def test_failover_wallet_fence_requires_the_worker_key_and_names_its_address() -> None:
    with pytest.raises(SafetyError) as exc:
        failover.verify_wallet(["f3other"], OWNER, WORKER, [CONTROL])
    msg = str(exc.value)
    assert f"lacks the worker key of the miner ({WORKER})" in msg and "Import the worker key" in msg
    assert "init restore was not run" in msg


def test_failover_wallet_fence_refuses_the_owner_key() -> None:
    with pytest.raises(SafetyError, match=r"holds the owner key of the miner \(f3owner\)"):
        failover.verify_wallet([WORKER, OWNER], OWNER, WORKER, [CONTROL])


def test_failover_wallet_fence_passes_with_the_worker_key() -> None:
    summary = failover.verify_wallet([WORKER, CONTROL], OWNER, WORKER, [CONTROL])
    assert f"worker key {WORKER}" in summary and "owner key absent" in summary and "1 control key" in summary


def test_init_restore_argv() -> None:
    assert failover.init_restore_argv("/b.cbor", config="/c.toml", storage_config="/s.json", nosync=False) == \
        ["lotus-miner", "init", "restore", "--config", "/c.toml", "--storage-config", "/s.json", "/b.cbor"]
    assert failover.init_restore_argv("/b.cbor", config=None, storage_config=None, nosync=True) == \
        ["lotus-miner", "init", "restore", "--nosync", "/b.cbor"]


@pytest.mark.parametrize("line", [f"Message CID: {CID}", f"2026-11-26T10:00:00Z INFO main Waiting for message: {CID}"])
def test_message_cid(line: str) -> None:
    assert failover.message_cid(f"Restoring metadata backup\n{line}\nMiner restored successfully\n") == CID


def test_outcome() -> None:
    assert failover.outcome(0, f"Message CID: {CID}", "/r", "") == CID
    with pytest.raises(DrillError, match="printed no ChangePeerID message CID"):
        failover.outcome(0, "Miner restored successfully", "/r", "")
    with pytest.raises(DrillError) as exc:
        failover.outcome(1, "ERROR: worker address f3x not present in full node wallet", "/drill/lotus-miner-failover",
                         "ERROR: worker address f3x not present")
    msg = str(exc.value)
    assert "failed (exit 1)" in msg and "half-initialised miner repo at /drill/lotus-miner-failover" in msg
    assert "teardown removes it" in msg


PLAN = """
[drill]
actor = "f01000"
[[restore.source]]
kind = "directory"
path = "/x"
"""


def test_plan_can_ask_for_nosync_but_never_for_failover() -> None:
    assert parse_plan(PLAN).failover_nosync is False
    assert parse_plan(PLAN + "[failover]\nnosync = true\n").failover_nosync is True
    for key in ("enabled = true", 'confirm = "f01000"'):
        with pytest.raises(PlanError, match=r"failover\.\w+.*unknown key; expected one of: nosync"):
            parse_plan(PLAN + f"[failover]\n{key}\n")


def test_summary_and_html_show_the_failover_banner() -> None:
    facts = {failover.MODE_FACT: "failover", failover.CID_FACT: CID, failover.NEXT_STEP_FACT: failover.NEXT_STEP}
    journal = make_journal(extra_facts=facts)
    text = render_summary(journal)
    assert f"FAILOVER MODE: not a drill. lotus-miner init restore ran and pushed ChangePeerID {CID}" in text
    assert "next step: the standby proves WindowPoSt but does not mine blocks" in text
    html = render_html(journal)
    assert 'id="failover-banner"' in html and CID in html and "DisableWinningPoSt = false" in html


def test_ordinary_evidence_has_no_failover_banner() -> None:
    journal = make_journal()
    assert "FAILOVER" not in render_summary(journal) and "failover-banner" not in render_html(journal)


def test_pytest_option_checks_the_actor_before_any_drill(tmp_path: Path) -> None:
    """`pytest drills --drill-failover X` is held to the same confirmation as `spdrill run --failover`."""
    source = tmp_path / "rp"
    source.mkdir()
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.replace('"/x"', f'"{source}"'))
    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, "-m", "pytest", str(root / "drills"), "--rootdir", str(root), "-p",
                        "no:cacheprovider", "--plan", str(plan), "--drill-failover", "f01001", "-q"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "does not match the plan's [drill] actor f01000" in p.stdout + p.stderr
    assert not (tmp_path / "reports").exists()


# Calibnet and devnet Lotus print t-addresses (build/buildconstants/params_calibnet.go:139, params_2k.go:112:
# SetAddressNetwork(address.Testnet)); go-address decodes `f` and `t` to the same address.
def test_failover_wallet_fence_on_a_testnet_matches_t_keys() -> None:
    summary = failover.verify_wallet(["t3worker", "t3control"], OWNER, WORKER, [CONTROL])
    assert "worker key f3worker" in summary and "1 control key" in summary and "(2 keys)" in summary
    with pytest.raises(SafetyError, match="holds the owner key"):
        failover.verify_wallet(["t3worker", "t3owner"], OWNER, WORKER, [])


def test_backup_of_a_testnet_actor_is_accepted_for_its_t_address(tmp_path: Path) -> None:
    from tests.lotus.test_backup import MINER, make_backup

    backup = tmp_path / "backup.cbor"
    backup.write_bytes(make_backup([MINER]))  # raw bytes of ID 1000, rendered f01000 by spdrill
    failover.check_backup_actor(backup, "t01000")
    with pytest.raises(DrillError, match="is of miner f01000, not the confirmed actor t01001"):
        failover.check_backup_actor(backup, "t01001")


def test_confirmation_with_the_other_prefix_is_the_same_actor() -> None:
    mode = failover.request(failover=True, confirm="f01000", actor="t01000", target="local")
    assert mode is not None and mode.actor == "t01000"
