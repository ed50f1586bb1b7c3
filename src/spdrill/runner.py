"""`spdrill run`: resolve the settings once, run the drills through pytest in-process with them, print the
summary and map the exit code."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

import pytest

from spdrill.attachplan import SOURCE as ATTACH_SOURCE
from spdrill.errors import UsageError
from spdrill.evidence.record import verdict
from spdrill.pytest_plugin import Finished, GivenSettings
from spdrill.settings import Options, Settings, resolve
from spdrill.summary import render_summary

# pytest's settings for the shipped drills, passed with -c: no pytest.ini, pyproject.toml or conftest.py of the
# operator's (in the current folder, or in a folder above the installed package) applies to a drill.
_PYTEST_INI = "# spdrill run: pytest settings of the shipped drills\n[pytest]\n"


def shipped_drills() -> Path:
    """The drills shipped in the installed package `spdrill.drills`."""
    folder = resources.files("spdrill.drills")
    if not isinstance(folder, Path) or not folder.is_dir():
        raise UsageError(f"spdrill's drills are not a folder on disk ({folder}); install spdrill as files "
                         "(pip install spdrill, not a zip) or pass --drills DIR")
    return folder


def run_drill(options: Options, *, keyword: str | None = None, drills: Path | None = None) -> int:
    """Resolve the settings, run the drills, print the summary; exit 0/1/2/3 as the README says.

    With a candidate, the drill runs twice from the same restore point, first with the plan's Lotus
    (the baseline), then with the candidate, and one report compares them (pre-change validation).
    """
    demo: list[Path] = []

    def demo_dir() -> Path:
        print("spdrill: no plan given: drilling a SIMULATED restore point made by lotus-sim (the Lotus stand-in), "
              "not real Lotus.", file=sys.stderr)
        demo.append(Path(tempfile.mkdtemp(prefix="spdrill-demo-")))
        return demo[-1]

    try:
        settings = resolve(options, env=os.environ, demo_dir=demo_dir)
        if settings.origin == ATTACH_SOURCE:
            print(f"spdrill: no plan given: drilling the running standby your $FULLNODE_API_INFO and "
                  f"$MINER_API_INFO point at ({settings.plan.name}); nothing is restored or started.",
                  file=sys.stderr)
        if settings.baseline is None:
            return _run_once(settings, keyword=keyword, drills=drills)[0]
        return _run_compared(settings, keyword=keyword, drills=drills)
    finally:
        for folder in demo:
            shutil.rmtree(folder, ignore_errors=True)


def _run_compared(settings: Settings, *, keyword: str | None, drills: Path | None) -> int:
    base_rc, base = _run_once(settings.baseline_settings(), keyword=keyword, drills=drills)
    cand_rc, cand = _run_once(settings, keyword=keyword, drills=drills)
    if base is None or cand is None:
        return max(base_rc, cand_rc, 2)
    from spdrill.evidence.compare import comparison, write_comparison

    html = write_comparison(base.journal, cand.journal, cand.folder)
    data = comparison(base.journal, cand.journal)
    print(f"pre-change validation: baseline {base.journal.drill_id} vs candidate {cand.journal.drill_id} "
          f"({settings.candidate}); comparison: {html}")
    regressions = data.get("regressions") or []
    for line in regressions:
        print(f"  REGRESSION  {line}")
    if cand_rc != 0:
        return cand_rc
    return 1 if regressions else 0


def _run_once(settings: Settings, *, keyword: str | None, drills: Path | None) -> tuple[int, Finished | None]:
    """One pytest session of the drills with these settings (handed in as an object, not as options)."""
    folder = drills or shipped_drills()
    args = [str(folder), "--rootdir", str(folder.resolve().parent), "-p", "no:cacheprovider", "-qq", "--no-header",
            "--tb=no", "-s", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if keyword:
        args += ["-k", keyword]
    given = GivenSettings(settings)
    with tempfile.TemporaryDirectory(prefix="spdrill-pytest-") as tmp:
        if drills is None:
            ini = Path(tmp) / "pytest.ini"
            ini.write_text(_PYTEST_INI)
            args += ["-c", str(ini), "--confcutdir", str(folder)]
        # pytest writes its JUnit at the very end; the plugin copies it into the drill folder before sealing.
        args += ["--junitxml", str(Path(tmp) / "junit-pytest.xml")]
        rc = int(pytest.main(args, plugins=[given]))
    finished = given.finished
    if finished is not None:
        print(render_summary(finished.journal, finished.folder), file=sys.stdout)
    return _exit_code(rc, finished), finished


def _exit_code(rc: int, finished: Finished | None) -> int:
    if (finished is not None and finished.cannot_run) or rc == 3:
        return 3
    if rc == 0 and finished is not None and verdict(finished.journal) != "pass":
        return 1  # every selected check passed, yet the record is no pass (a check never ran): never exit 0
    if rc in (0, 1):
        return rc
    if rc == 2:  # interrupted, or pytest.exit from a plan error
        return 3 if finished is not None else 2
    return 2  # usage error or no drills collected
