"""The HTML report in headless Debian Chromium with no network: what it shows, and that it fetches nothing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spdrill.evidence.html import render_html
from spdrill.journal import Journal

pytestmark = pytest.mark.integration
# Chromium's own services call home even with background networking off (network time, component
# updater, sign-in). Those exact hosts are not the page's doing; anything else the tripwire sees is.
CHROMIUM_OWN = (
    "clients2.google.com",
    "update.googleapis.com",
    "accounts.google.com",
    "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com",
    "redirector.gvt1.com",
    "safebrowsingohttpgateway.googleapis.com",
    "edgedl.me.gvt1.com",
)


def _host(request_line: str) -> str:
    target = request_line.split(" ")[1] if " " in request_line else request_line
    return target.removeprefix("http://").removeprefix("https://").split("/")[0].split(":")[0]


def page_fetches(requests: list[str]) -> list[str]:
    """The tripwire's requests minus Chromium's own service calls."""
    return [r for r in requests if _host(r) not in CHROMIUM_OWN]


def _request_line(conn: socket.socket) -> str:
    """The first line the client sends, or "" when it sends none before closing (or within 2 s)."""
    conn.settimeout(2.0)
    data = b""
    try:
        while b"\r\n" not in data and len(data) < 8192:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data.split(b"\r\n", 1)[0].decode(errors="replace").strip()


class Tripwire:
    """A TCP listener posing as Chromium's proxy: any fetch the page attempts lands here and is recorded."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self.silent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                first = _request_line(conn)
            if first:
                self.requests.append(first)
            else:
                # A connection that sends nothing is a speculative pre-connect (Chromium opens spare sockets to
                # its proxy and drops them); no fetch goes through it. Counted, not treated as a page fetch.
                self.silent += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def chromium(kit: Any) -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    kit.unavailable(
        "Debian's chromium is not installed (apt-get install chromium); it renders the HTML report"
    )
    raise AssertionError("unreachable")


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    t = Tripwire()
    yield t
    t.close()


def run_chromium(chromium: str, page: Path, tmp: Path, proxy: int, *extra: str) -> str:
    """Chromium with every network path closed: background services off, all traffic sent to the tripwire."""
    argv = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-default-browser-check",
        "--no-pings",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-breakpad",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
        f"--user-data-dir={tmp / 'profile'}",
        f"--proxy-server=127.0.0.1:{proxy}",
        "--proxy-bypass-list=<-loopback>",
        "--window-size=1000,2200",
        *extra,
        page.as_uri(),
    ]
    env = {**os.environ, "HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / "config")}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90, env=env, check=False)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def output_folder(config: pytest.Config) -> Path:
    """Where screenshots are kept for people to look at: $SPDRILL_TEST_OUTPUT or reports/test-output/."""
    folder = Path(os.environ.get("SPDRILL_TEST_OUTPUT", config.rootpath / "reports" / "test-output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_chromium_shows_the_report_and_fetches_nothing(
    chromium: str,
    tripwire: Tripwire,
    journal: Journal,
    kit: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(journal, logs={"daemon": f"api {kit.token}\n"}))
    dom = run_chromium(chromium, page, tmp_path, tripwire.port, "--dump-dom")
    assert 'id="verdict" class="verdict pass">PASS<' in dom
    assert "SIMULATED: the standby was the lotus-sim stand-in" in dom
    assert 'id="rto">1m35s<' in dom and 'id="rpo">12h15m<' in dom
    assert dom.count('class="phase critical"') == 6 and 'data-phase="start-worker"' in dom
    assert "WindowPoSt dry-run succeeds" in dom and "<th>provable</th>" in dom
    assert kit.token not in dom
    shot = output_folder(request.config) / "evidence-report.png"
    shot.unlink(missing_ok=True)
    run_chromium(chromium, page, tmp_path, tripwire.port, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page_fetches(tripwire.requests) == [], f"the report tried to fetch: {tripwire.requests}"


def test_tripwire_catches_a_page_that_fetches(chromium: str, tripwire: Tripwire, tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://tracker.invalid/p.gif">leaky</body></html>')
    dom = run_chromium(chromium, page, tmp_path, tripwire.port, "--dump-dom")
    assert "leaky" in dom
    assert [_host(r) for r in page_fetches(tripwire.requests)] == ["tracker.invalid"], tripwire.requests


def test_chromium_own_hosts_do_not_hide_font_or_cdn_fetches() -> None:
    leaks = [
        "GET http://fonts.googleapis.com/css?family=Roboto HTTP/1.1",
        "CONNECT cdn.jsdelivr.net:443 HTTP/1.1",
        "CONNECT update.googleapis.com:443 HTTP/1.1",
    ]
    assert [_host(r) for r in page_fetches(leaks)] == ["fonts.googleapis.com", "cdn.jsdelivr.net"]


def test_chromium_shows_the_comparison(
    chromium: str, tripwire: Tripwire, kit: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from dataclasses import replace

    from spdrill.evidence.compare import write_comparison

    base = kit.make_journal()
    cand = replace(kit.make_journal(passed=False), drill_id="cand", versions={"lotus": "1.29.0-rc1"})
    page = write_comparison(base, cand, tmp_path / "cmp")
    dom = run_chromium(chromium, page, tmp_path, tripwire.port, "--dump-dom")
    assert 'class="verdict fail">REGRESSED<' in dom and "1.29.0-rc1" in dom
    assert "check test_post_dry_run passes on the baseline but not on the candidate" in dom
    shot = output_folder(request.config) / "evidence-compare.png"
    run_chromium(chromium, page, tmp_path, tripwire.port, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    assert page_fetches(tripwire.requests) == [], tripwire.requests
