"""spdrill's pytest plugin: options, check ordering, recording each drill test as a check, exit codes.

Hooks in lifecycle order: addoption → configure → collection_modifyitems → runtest_call →
runtest_makereport → sessionfinish. Fixtures live in the repository's fixtures/ folder (loaded by conftest.py).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from spdrill import failover
from spdrill.drill import Drill
from spdrill.errors import UsageError
from spdrill.failover import FailoverMode
from spdrill.plan import Plan

DRILL_KEY = pytest.StashKey[Drill]()
PLAN_ERROR_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spdrill", "restore drills (spdrill)")
    group.addoption("--plan", dest="spdrill_plan", default=None, metavar="FILE",
                    help="drill plan (TOML); else $SPDRILL_PLAN, else the ini option spdrill_plan, else the "
                         "built-in simulated demo")
    group.addoption("--drill-target", dest="spdrill_target", default=None,
                    choices=["local", "attach", "docker", "ssh"],
                    help="override the plan's [target] kind")
    group.addoption("--drill-reports", dest="spdrill_reports", default=None, metavar="DIR",
                    help="override the plan's [reports] dir")
    group.addoption("--drill-sign", dest="spdrill_sign", default=None, metavar="KEY",
                    help="sign the evidence bundle with this ed25519 private key (over [reports] sign_key)")
    group.addoption("--drill-metrics", dest="spdrill_metrics", default=None, metavar="FILE",
                    help="write Prometheus textfile metrics here (over [reports] metrics)")
    group.addoption("--drill-history", dest="spdrill_history", default=None, metavar="DB",
                    help="keep the drill in this SQLite history (over [reports] history)")
    group.addoption("--drill-webhook", dest="spdrill_webhook", default=None, metavar="URL",
                    help="POST a JSON summary here at the end (over [reports] webhook)")
    group.addoption("--drill-candidate", dest="spdrill_candidate", default=None, metavar="bin=DIR|image=REF",
                    help="drill with a candidate Lotus instead of the plan's (pre-change validation)")
    # No ini option and no env var on purpose: a failover is asked for on one command line, never configured.
    group.addoption("--drill-failover", dest="spdrill_failover", default=None, metavar="ACTOR",
                    help="FAILOVER mode: run `lotus-miner init restore` (pushes ChangePeerID on chain); ACTOR "
                         "must be the plan's [drill] actor (spdrill run --failover --confirm-failover ACTOR)")
    parser.addini("spdrill_plan", "drill plan used when neither --plan nor $SPDRILL_PLAN is given", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "objective: a drill judging the whole run (RTO, RPO); runs last")
    config.addinivalue_line("markers", "readiness: a drill asserting one readiness fact of the standby")
    config.addinivalue_line("markers", "failover: a check of failover mode only (deselected in ordinary drills)")


EXPECTED_KEY = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Objective checks (RTO, RPO) need every readiness check first: move them to the end, order kept."""
    if config.getoption("spdrill_failover", None) is None:  # ordinary drills never run init restore
        dropped = [i for i in items if i.get_closest_marker("failover") is not None]
        if dropped:
            items[:] = [i for i in items if i.get_closest_marker("failover") is None]
            config.hook.pytest_deselected(items=dropped)
    items.sort(key=lambda item: item.get_closest_marker("objective") is not None)
    # How many drill checks should run: a record with fewer (interrupted, crashed) is not a pass.
    config.stash[EXPECTED_KEY] = sum(1 for i in items if "drill" in getattr(i, "fixturenames", ()))


def failover_of(config: pytest.Config, plan: Plan) -> FailoverMode | None:
    """The confirmed failover of this session, or None; a mismatch ends the session with exit 2."""
    confirm = config.getoption("spdrill_failover")
    try:
        return failover.request(failover=confirm is not None, confirm=confirm, actor=plan.actor,
                                candidate=config.getoption("spdrill_candidate"), target=plan.target.kind,
                                nosync=plan.failover_nosync)
    except UsageError as exc:
        pytest.exit(f"spdrill: {exc}", returncode=2)


def _drill_of(item: pytest.Item) -> Drill | None:
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    drill = funcargs.get("drill")
    return drill if isinstance(drill, Drill) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    drill = _drill_of(item)
    if drill is not None:
        drill.begin_check()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    drill = _drill_of(item)
    if drill is not None and report.skipped:
        # Skipped checks (turned off by the plan, or not applicable to the target) are not evidence of
        # readiness: kept out of the checks and RTO, but listed so nobody mistakes them for passes.
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        drill.note_skipped(_title(item), reason.removeprefix("Skipped: "))
    if drill is not None and report.when == "call" and not report.skipped:
        kind = "objective" if item.get_closest_marker("objective") else "readiness"
        title = _title(item)
        message = ""
        if report.failed and call.excinfo is not None:
            message = call.excinfo.exconly().removeprefix("AssertionError: ").splitlines()[0]
        drill.end_check(item.name, title, kind, report.passed, message, report.duration)
    return report


def _title(item: pytest.Item) -> str:
    doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines() if hasattr(item, "obj") else []
    return doc[0] if doc else item.name


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drill = session.config.stash.get(DRILL_KEY, None)
    if drill is not None and exitstatus == pytest.ExitCode.INTERRUPTED:
        # Runs before pytest tears the session fixtures down, so the drill's reports say so.
        drill.journal.fact("interrupted", True)
    if drill is not None and drill.cannot_run is not None and exitstatus in (0, 1):
        session.exitstatus = 3
