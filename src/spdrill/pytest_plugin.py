"""spdrill's pytest plugin: options, settings, check ordering, recording each drill test as a check, reports.

Registered by the `pytest11` entry point `spdrill`, so the drill fixtures (`spdrill.fixtures`) are there wherever
the drills run from: the installed package (`spdrill run`, ``pytest --pyargs spdrill.drills``) or a checkout.
Hooks in lifecycle order: addoption → configure → collection_modifyitems → runtest_call → runtest_makereport
→ sessionfinish (the drill's reports are written and sealed once, after teardown and after pytest's JUnit).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spdrill.drill import Drill
from spdrill.errors import UsageError
from spdrill.evidence.record import verdict
from spdrill.journal import Journal
from spdrill.plan import Plan
from spdrill.settings import PYTEST_SPELLING, Options, Settings, resolve

pytest_plugins = ["spdrill.fixtures.plan", "spdrill.fixtures.standby"]

DRILL_KEY = pytest.StashKey[Drill]()
EXPECTED_KEY = pytest.StashKey[int]()
SETTINGS_KEY = pytest.StashKey[Settings]()


@dataclass(frozen=True)
class Finished:
    """A drill torn down, waiting for its reports: written once pytest's own JUnit is there too."""

    journal: Journal
    logs: dict[str, str]
    plan: Plan
    cannot_run: bool

    @property
    def folder(self) -> Path:
        """The drill's reports folder, reports/<drill id>/."""
        return self.plan.reports / self.journal.drill_id


FINISHED_KEY = pytest.StashKey[Finished]()


class GivenSettings:
    """The plugin object `spdrill run` passes to `pytest.main(plugins=[...])`: settings resolved before pytest.

    It hands them to the session and, when the session ends, keeps what the drill left for the caller.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.finished: Finished | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[SETTINGS_KEY] = self.settings

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.finished = config.stash.get(FINISHED_KEY, None)


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
                    help="POST a JSON summary here at the end (over $SPDRILL_WEBHOOK and [reports] webhook)")
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


def options_of(config: pytest.Config) -> Options:
    """What pytest's command line asked for, as `spdrill.settings` takes it."""

    def path(dest: str) -> Path | None:
        value = config.getoption(dest)
        return None if not value else Path(value)

    confirm = config.getoption("spdrill_failover")
    return Options(plan=path("spdrill_plan"), target=config.getoption("spdrill_target"),
                   reports=path("spdrill_reports"), sign_key=path("spdrill_sign"), metrics=path("spdrill_metrics"),
                   history=path("spdrill_history"), webhook=config.getoption("spdrill_webhook"),
                   candidate=config.getoption("spdrill_candidate"), failover=confirm is not None,
                   confirm_failover=confirm, spelling=PYTEST_SPELLING)


def settings_of(config: pytest.Config, demo_dir: Callable[[], Path]) -> Settings:
    """This session's settings: those `spdrill run` handed in, else resolved once from pytest's options.

    A bad setting ends the session with exit code 2 and the message naming where it came from.
    """
    if SETTINGS_KEY not in config.stash:
        try:
            config.stash[SETTINGS_KEY] = resolve(options_of(config), env=os.environ,
                                                 ini_plan=str(config.getini("spdrill_plan") or ""),
                                                 demo_dir=demo_dir)
        except UsageError as exc:
            pytest.exit(f"spdrill: {exc}", returncode=2)
    return config.stash[SETTINGS_KEY]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Objective checks (RTO, RPO) need every readiness check first: move them to the end, order kept."""
    settings = config.stash.get(SETTINGS_KEY, None)
    asked = settings.failover is not None if settings is not None else config.getoption("spdrill_failover")
    if not asked:  # ordinary drills never run init restore
        dropped = [i for i in items if i.get_closest_marker("failover") is not None]
        if dropped:
            items[:] = [i for i in items if i.get_closest_marker("failover") is None]
            config.hook.pytest_deselected(items=dropped)
    items.sort(key=lambda item: item.get_closest_marker("objective") is not None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """How many drill checks will run, counted after every deselection (-k, -m): a record with fewer
    (interrupted, crashed) is not a pass, and one with all the selected ones is judged on those."""
    session.config.stash[EXPECTED_KEY] = sum(1 for i in session.items if "drill" in getattr(i, "fixturenames", ()))


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
    if drill is not None and report.when == "call" and report.failed and drill.cannot_run is not None:
        # One root cause: spdrill could not run the drill, so a failing check proves nothing either way. It is
        # "not run", in the summary, the record and both JUnit files, never a failure with the cause pasted in.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: not run: {drill.could_not_run_cause()}")
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


def keep_for_reports(config: pytest.Config, drill: Drill) -> None:
    """Close the drill and keep its journal and logs for the reports, written once the session has ended."""
    journal = drill.close()
    config.stash[FINISHED_KEY] = Finished(journal=journal, logs=dict(drill.logs), plan=drill.plan,
                                          cannot_run=drill.cannot_run is not None)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
    # Before every other sessionfinish: before pytest tears the session fixtures (the drill) down.
    drill = session.config.stash.get(DRILL_KEY, None)
    if drill is not None and exitstatus == pytest.ExitCode.INTERRUPTED:
        drill.journal.interrupt()  # so the drill's reports say so
    if drill is not None and drill.cannot_run is not None and exitstatus in (0, 1):
        session.exitstatus = 3
    try:
        return (yield)
    finally:
        # After them: the drill is torn down and junitxml has written pytest's JUnit, so the folder is complete
        # before it is sealed, once.
        _write_reports(session.config)
        finished = session.config.stash.get(FINISHED_KEY, None)
        if finished is not None and session.exitstatus == 0 and verdict(finished.journal) != "pass":
            session.exitstatus = 1  # every check that ran passed, yet the record is no pass: never exit 0


def _write_reports(config: pytest.Config) -> None:
    from spdrill.evidence import write_drill_reports

    finished = config.stash.get(FINISHED_KEY, None)
    if finished is None:
        return
    finished.folder.mkdir(parents=True, exist_ok=True)
    xmlpath = getattr(config.option, "xmlpath", None)  # pytest's --junitxml
    if xmlpath:
        junit = config.invocation_params.dir / xmlpath
        if junit.is_file():
            shutil.copyfile(junit, finished.folder / "junit-pytest.xml")
    write_drill_reports(finished.journal, finished.logs, finished.folder, latest=finished.plan.reports / "latest",
                        plan=finished.plan)
