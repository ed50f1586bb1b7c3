"""The finish webhook against a real HTTP server on 127.0.0.1: retries, timeout, no secrets sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from spdrill.errors import CannotRunError
from spdrill.evidence.notify import post_webhook, safe_url, summary
from spdrill.journal import Journal


class Hook:
    """A webhook receiver that answers from a script of (status, delay) and keeps every body it got."""

    def __init__(self) -> None:
        self.script: list[tuple[int, float]] = []
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                hook.paths.append(self.path)
                status, delay = hook.script.pop(0) if hook.script else (200, 0.0)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/s3cr3tpath"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def test_summary_posted_once_on_success(hook: Hook, journal: Journal) -> None:
    sleeps: list[float] = []
    assert post_webhook(hook.url, summary(journal), sleep=sleeps.append) == 200
    assert sleeps == [] and len(hook.bodies) == 1 and hook.paths == ["/hooks/T000/B000/s3cr3tpath"]
    body = hook.bodies[0]
    assert body["verdict"] == "pass" and body["rto_seconds"] == 95.0 and body["rpo_seconds"] == 44100.0
    assert body["simulated"] is True and "[SIMULATED]" in body["text"]
    assert body["mode"] == "drill" and "FAILOVER" not in body["text"]
    assert body["critical_path"][-1] == "post-dry-run" and body["failed_checks"] == []


def test_retries_on_5xx_and_429_then_succeeds(hook: Hook, failing_journal: Journal) -> None:
    hook.script = [(503, 0.0), (429, 0.0), (500, 0.0)]
    sleeps: list[float] = []
    assert post_webhook(hook.url, summary(failing_journal), sleep=sleeps.append, attempts=4) == 200
    assert len(hook.bodies) == 4 and len(sleeps) == 3 and sleeps == sorted(sleeps)
    assert hook.bodies[-1]["failed_checks"][0]["message"] == "PoSt failed: 3 sectors unreadable"


def test_gives_up_after_the_attempts_without_leaking_the_url(hook: Hook, journal: Journal) -> None:
    hook.script = [(502, 0.0)] * 3
    with pytest.raises(CannotRunError) as exc:
        post_webhook(hook.url, summary(journal), sleep=lambda s: None, attempts=3)
    assert len(hook.bodies) == 3
    assert "HTTP 502" in str(exc.value) and "s3cr3tpath" not in str(exc.value)
    assert safe_url(hook.url) in str(exc.value)


def test_4xx_is_not_retried(hook: Hook, journal: Journal) -> None:
    hook.script = [(404, 0.0)]
    with pytest.raises(CannotRunError, match="HTTP 404"):
        post_webhook(hook.url, summary(journal), sleep=lambda s: None)
    assert len(hook.bodies) == 1


def test_timeout_is_retried_then_succeeds(hook: Hook, journal: Journal) -> None:
    hook.script = [(200, 1.0)]  # slower than the timeout: the client gives up and tries again
    sleeps: list[float] = []
    started = time.monotonic()
    assert post_webhook(hook.url, summary(journal), timeout=0.2, sleep=sleeps.append) == 200
    assert time.monotonic() - started < 5 and len(hook.bodies) == 2 and len(sleeps) == 1


def test_connection_refused_is_retried_then_reported(journal: Journal) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sleeps: list[float] = []
    with pytest.raises(CannotRunError, match="ConnectError"):
        post_webhook(f"http://127.0.0.1:{port}/x", summary(journal), sleep=sleeps.append, attempts=2)
    assert len(sleeps) == 1


def test_no_token_in_the_body(hook: Hook, kit: Any) -> None:
    j = kit.make_journal(passed=False)
    from dataclasses import replace

    from spdrill.journal import Check

    j = replace(
        j, checks=(*j.checks, Check("test_auth", "auth", "readiness", False, f"bad token {kit.token}", None))
    )
    post_webhook(hook.url, summary(j), sleep=lambda s: None)
    raw = json.dumps(hook.bodies[0])
    assert kit.token not in raw and "<redacted>" in raw


def test_a_failover_says_so(kit: Any) -> None:
    body = summary(kit.make_journal(extra_facts={"mode": "failover"}))
    assert body["mode"] == "failover" and body["text"].endswith("[SIMULATED] [FAILOVER]")
