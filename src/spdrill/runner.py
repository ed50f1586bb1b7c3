"""`spdrill run`: run the drills through pytest in-process, then print the summary and map the exit code."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

import spdrill
from spdrill.errors import UsageError
from spdrill.failover import FailoverMode
from spdrill.journal import Journal
from spdrill.pytest_plugin import DRILL_KEY
from spdrill.summary import render_summary


def shipped_drills() -> Path:
    """The drills/ folder next to the installed package (an editable install of the repository)."""
    root = Path(spdrill.__file__).resolve().parents[2]
    drills = root / "drills"
    if not (drills.is_dir() and (root / "conftest.py").is_file()):
        raise UsageError(f"cannot find spdrill's drills/ folder (looked in {root}); pass --drills DIR or install "
                         "spdrill from its repository with `pip install -e .`")
    return drills


class _Collector:
    """Catches the drill's journal as the session ends, before the fixture's objects go away."""

    def __init__(self) -> None:
        self.journal: Journal | None = None
        self.drill_dir: Path | None = None
        self.cannot_run = False

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        drill = config.stash.get(DRILL_KEY, None)
        if drill is not None:
            self.journal = drill.journal.freeze()
            self.drill_dir = drill.plan.reports / drill.id
            self.cannot_run = drill.cannot_run is not None


def run_drill(*, plan: Path | None, target: str | None, reports: Path | None, keyword: str | None,
              drills: Path | None, evidence_args: Any = None, candidate: str | None = None,
              failover: bool = False, confirm_failover: str | None = None) -> int:
    """Validate the plan, run the drills, print the summary; exit 0/1/2/3 as the README says.

    With `candidate`, the drill runs twice from the same restore point, first with the plan's Lotus
    (the baseline), then with the candidate, and one report compares them (pre-change validation).
    """
    demo_tmp: Path | None = None
    if plan is None and not os.environ.get("SPDRILL_PLAN"):
        from spdrill.demo import make_demo_plan

        demo_tmp = Path(tempfile.mkdtemp(prefix="spdrill-demo-"))
        print("spdrill: no plan given: drilling a SIMULATED restore point made by lotus-sim (the Lotus stand-in), "
              "not real Lotus.", file=sys.stderr)
        try:
            plan = make_demo_plan(demo_tmp, reports=(reports or Path("reports")).resolve())
        except BaseException:
            shutil.rmtree(demo_tmp, ignore_errors=True)
            raise
    elif plan is None:
        plan = Path(os.environ["SPDRILL_PLAN"])
    try:
        mode = _failover_mode(plan, target, candidate, failover, confirm_failover)
        if mode is not None:
            return _run_once(plan=plan, target=target, reports=reports, keyword=keyword, drills=drills,
                             evidence_args=evidence_args, failover=mode)[0]
        return _run_compared(plan=plan, target=target, reports=reports, keyword=keyword, drills=drills,
                             evidence_args=evidence_args, candidate=candidate)
    finally:
        if demo_tmp is not None:
            shutil.rmtree(demo_tmp, ignore_errors=True)


def _failover_mode(plan: Path, target: str | None, candidate: str | None, failover: bool,
                   confirm: str | None) -> FailoverMode | None:
    """The confirmed failover, checked against the plan before anything starts (exit 2 when it is not)."""
    if not failover and confirm is None:
        return None
    from spdrill.failover import request
    from spdrill.planload import load_validated

    checked = load_validated(plan)
    return request(failover=failover, confirm=confirm, actor=checked.actor, candidate=candidate,
                   target=target or checked.target.kind, nosync=checked.failover_nosync)


def _run_compared(*, plan: Path, target: str | None, reports: Path | None, keyword: str | None,
                  drills: Path | None, evidence_args: Any, candidate: str | None) -> int:
    if candidate is None:
        return _run_once(plan=plan, target=target, reports=reports, keyword=keyword, drills=drills,
                         evidence_args=evidence_args)[0]
    from spdrill.planload import apply_candidate, load_validated

    apply_candidate(load_validated(plan), candidate)  # a bad candidate is exit 2 before any drill
    base_rc, base = _run_once(plan=plan, target=target, reports=reports, keyword=keyword, drills=drills,
                              evidence_args=evidence_args)
    cand_rc, cand = _run_once(plan=plan, target=target, reports=reports, keyword=keyword, drills=drills,
                              evidence_args=evidence_args, candidate=candidate)
    if base.journal is None or cand.journal is None or cand.drill_dir is None:
        return max(base_rc, cand_rc, 2)
    from spdrill.evidence.compare import comparison, write_comparison

    html = write_comparison(base.journal, cand.journal, cand.drill_dir)
    data = comparison(base.journal, cand.journal)
    print(f"pre-change validation: baseline {base.journal.drill_id} vs candidate {cand.journal.drill_id} "
          f"({candidate}); comparison: {html}")
    regressions = data.get("regressions") or []
    for line in regressions:
        print(f"  REGRESSION  {line}")
    if cand_rc != 0:
        return cand_rc
    return 1 if regressions else 0


def _run_once(*, plan: Path, target: str | None, reports: Path | None, keyword: str | None,
              drills: Path | None, evidence_args: Any = None,
              candidate: str | None = None, failover: FailoverMode | None = None) -> tuple[int, _Collector]:
    from spdrill.planload import load_validated

    checked = load_validated(plan)  # exit 2 on a bad plan before anything starts
    evidence = checked.evidence
    if evidence_args is not None:
        from spdrill.evidence.cli import apply_run_options

        evidence = apply_run_options(checked, evidence_args).evidence  # a bad key is exit 2, now
    folder = drills or shipped_drills()
    root = folder.resolve().parent
    args = [str(folder), "--rootdir", str(root), "-p", "no:cacheprovider", "--plan", str(plan), "-qq",
            "--no-header", "--tb=no", "-s", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if target:
        args += ["--drill-target", target]
    if reports:
        args += ["--drill-reports", str(reports.resolve())]
    if keyword:
        args += ["-k", keyword]
    if candidate:
        args += ["--drill-candidate", candidate]
    if failover is not None:
        args += ["--drill-failover", failover.actor]
    for option, value in (("--drill-sign", evidence.sign_key), ("--drill-metrics", evidence.metrics),
                          ("--drill-history", evidence.history), ("--drill-webhook", evidence.webhook)):
        if value is not None:  # the plan's own values come back unchanged; the command line's win
            args += [option, str(value)]
    # pytest writes its JUnit at the very end, after the drill folder is known; park it in the reports folder.
    evidence.dir.mkdir(parents=True, exist_ok=True)
    junit_tmp = evidence.dir / f".junit-pytest-{os.getpid()}.xml"
    args += ["--junitxml", str(junit_tmp)]
    collector = _Collector()
    try:
        rc = int(pytest.main(args, plugins=[collector]))
    finally:
        if collector.drill_dir is not None and junit_tmp.exists():
            collector.drill_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(str(junit_tmp), collector.drill_dir / "junit-pytest.xml")
            if evidence.sign_key is not None:  # the bundle sealed at teardown lacked pytest's JUnit: seal again
                from spdrill.evidence import seal

                seal(collector.drill_dir, evidence.sign_key)
        junit_tmp.unlink(missing_ok=True)
    if collector.journal is not None:
        print(render_summary(collector.journal, collector.drill_dir), file=sys.stdout)
    return _exit_code(rc, collector), collector


def _exit_code(rc: int, collector: Any) -> int:
    if collector.cannot_run or rc == 3:
        return 3
    if rc in (0, 1):
        return rc
    if rc == 2:  # interrupted, or pytest.exit from a plan error
        return 3 if collector.journal is not None else 2
    return 2  # usage error or no drills collected
