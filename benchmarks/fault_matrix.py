"""Run the fault matrix, concurrency, fuzz and secrets tests and print the measured table for RELIABILITY.md.

Each matrix test asserts detection (the right check, exit code and message, no false pass), no leftovers and
an unchanged restore point, so a passed row is "detected, 0 leftovers"; a strict xfail is a known defect.

Usage: .venv/bin/python benchmarks/fault_matrix.py [--junit FILE]   (CI=true makes missing real parts fail)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped

ROOT = Path(__file__).resolve().parents[1]
FILES = ["tests/faults/test_fault_matrix.py", "tests/faults/test_concurrency.py",
         "tests/faults/test_fuzz_inputs.py", "tests/faults/test_secrets_sweep.py"]


def outcome(case: object) -> str:
    """passed, failed, xfail (a known defect, strict) or skipped, from one JUnit testcase."""
    results = list(getattr(case, "result", []) or [])
    for r in results:
        if isinstance(r, Skipped):
            return "xfail" if "xfail" in (r.type or "") or "xfail" in (r.message or "").lower() else "skipped"
        if isinstance(r, (Failure, Error)):
            return "failed"
    return "passed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path, help="keep pytest's JUnit here")
    args = parser.parse_args()
    junit = args.junit or Path(tempfile.mkdtemp()) / "faults.xml"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", f"--junitxml={junit}",
                           *FILES], cwd=ROOT, check=False)
    wall = time.monotonic() - start
    rows = [(case.classname.rsplit(".", 1)[-1], case.name, outcome(case), case.time)
            for suite in JUnitXml.fromfile(str(junit)) for case in suite]
    print("| file | test | outcome | seconds |\n| --- | --- | --- | --- |")
    for module, name, result, seconds in rows:
        print(f"| {module} | {name} | {result} | {seconds:.1f} |")
    counts = {k: sum(1 for r in rows if r[2] == k) for k in ("passed", "failed", "xfail", "skipped")}
    matrix = [r for r in rows if r[0] == "test_fault_matrix"]
    detected = sum(r[2] == "passed" for r in matrix)
    print(f"\nmatrix: {len(matrix)} tests, {detected} detected with 0 leftovers, "
          f"{sum(r[2] == 'xfail' for r in matrix)} known defects; all: {counts}; wall {wall:.0f} s")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
