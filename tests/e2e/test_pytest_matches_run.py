"""`spdrill run --plan P` and `pytest drills/ --plan P` resolve the same settings (spdrill.settings) and leave the
same evidence: verdict, checks and their outcomes, phases, facts, the webhook call and the signed bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from spdrill.evidence import verify_bundle
from spdrill.evidence.keys import keygen, load_public_key

from .conftest import SPDRILL, SimDrill

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local webhook receiver: its URL and the JSON bodies it was sent."""
    got: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


def _shape(record: dict[str, Any]) -> dict[str, Any]:
    """What must agree between two drills of one plan (ids, times and ports differ)."""
    return {
        "verdict": record["verdict"],
        "simulated": record["simulated"],
        "target": record["target"],
        "checks": sorted((c["name"], c["kind"], c["passed"]) for c in record["checks"]),
        "phases": sorted((p["name"], p["outcome"]) for p in record["phases"]),
        "facts": sorted(record["facts"]),
        "skipped": record["facts"].get("skipped_checks"),
        "checks_expected": record["facts"]["checks_expected"],
        "sections": sorted(record),
    }


def _members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        files = {m.name: tar.extractfile(m) for m in tar.getmembers() if m.isfile()}
        return {name: f.read() for name, f in files.items() if f is not None}


def test_pytest_and_spdrill_run_agree(sim_drill: Callable[..., SimDrill], tmp_path: Path,
                                      webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, posts = webhook
    key, pub = keygen(tmp_path / "keys")
    sim = sim_drill(sectors=16, deadlines=2)
    sim.edit_plan("[reports]\n", f'[reports]\nsign_key = "{key}"\n')
    env = {**_env(), "SPDRILL_WEBHOOK": url}
    by_run, by_pytest = tmp_path / "reports-run", tmp_path / "reports-pytest"

    run = subprocess.run([SPDRILL, "run", "--plan", str(sim.plan), "--reports", str(by_run)], capture_output=True,
                         text=True, timeout=240, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    pyt = subprocess.run([sys.executable, "-m", "pytest", "drills/", "-p", "no:cacheprovider", "-q", "--plan",
                          str(sim.plan), "--drill-reports", str(by_pytest), "--junitxml",
                          str(tmp_path / "pytest-junit.xml")], cwd=ROOT, capture_output=True, text=True,
                         timeout=240, env=env)
    assert pyt.returncode == 0, pyt.stdout + pyt.stderr

    records = [json.loads((r / "latest" / "drill.json").read_text()) for r in (by_run, by_pytest)]
    assert _shape(records[0]) == _shape(records[1])
    assert records[0]["verdict"] == "pass"
    # $SPDRILL_WEBHOOK reached by both: one POST per drill, the same summary
    assert sorted(p["drill_id"] for p in posts) == sorted(r["drill_id"] for r in records)
    assert len({(p["verdict"], p["simulated"], tuple(sorted(p))) for p in posts}) == 1
    # one bundle each, sealed after pytest's JUnit was in the folder, valid under the key
    bundles = [r / "latest" / "evidence.tar.gz" for r in (by_run, by_pytest)]
    members = [_members(b) for b in bundles]
    assert set(members[0]) == set(members[1])
    assert "junit-pytest.xml" in members[0]
    for folder, bundle, inside in zip((by_run, by_pytest), bundles, members, strict=True):
        assert inside["junit-pytest.xml"] == (folder / "latest" / "junit-pytest.xml").read_bytes()
        assert verify_bundle(bundle, load_public_key(pub)).ok
    assert not list(by_run.glob(".junit-pytest-*"))  # nothing parked in the reports folder


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("SPDRILL_PLAN", "SPDRILL_WEBHOOK")}
