"""write_drill_reports with a plan: every report, history, metrics, webhook and bundle; no token anywhere."""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from spdrill.errors import InputError, UsageError
from spdrill.evidence import write_drill_reports
from spdrill.evidence.cli import add_run_options, apply_run_options
from spdrill.evidence.keys import keygen, load_public_key
from spdrill.evidence.sign import verify_bundle
from spdrill.plan import Plan, ReportsSpec, parse_plan

PLAN = (
    '[drill]\nactor = "f01234"\nname = "nightly f01234"\n'
    '[[restore.source]]\nkind = "directory"\npath = "/x"\n'
)


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    got: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(404 if self.path.endswith("/gone") else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


def plan_with(tmp_path: Path, **evidence: Any) -> Plan:
    plan = parse_plan(PLAN, source=str(tmp_path / "plan.toml"), base_dir=tmp_path)
    return dataclasses.replace(plan, evidence=ReportsSpec(dir=tmp_path / "reports", **evidence))


def everything(tmp_path: Path, url: str) -> tuple[Plan, Path]:
    key, pub = keygen(tmp_path / "keys")
    return plan_with(
        tmp_path,
        sign_key=key,
        metrics=tmp_path / "textfile" / "spdrill.prom",
        webhook=url,
        history=tmp_path / "history.sqlite",
    ), pub


def test_all_evidence_from_one_call(
    tmp_path: Path, receiver: tuple[str, list[bytes]], kit: Any, logs: dict[str, str]
) -> None:
    url, got = receiver
    plan, pub = everything(tmp_path, url)
    folder = write_drill_reports(
        kit.make_journal(),
        logs,
        tmp_path / "reports" / "d1",
        plan=plan,
        latest=tmp_path / "reports" / "latest",
    )
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert names == [
        "drill.json",
        "evidence.tar.gz",
        "junit-drill.xml",
        "logs/daemon.log",
        "logs/miner.log",
        "report.html",
    ]
    assert verify_bundle(folder / "evidence.tar.gz", load_public_key(pub)).ok
    assert (tmp_path / "textfile" / "spdrill.prom").read_text().count("spdrill_check_ok{") == 3
    assert len(got) == 1 and json.loads(got[0])["verdict"] == "pass"
    with sqlite3.connect(tmp_path / "history.sqlite") as con:
        assert con.execute("SELECT drill_id, verdict FROM drills").fetchall() == [
            ("20261126T131500Z-3f9a1c", "pass")
        ]
    assert (tmp_path / "reports" / "latest").resolve() == folder.resolve()


def test_trend_appears_from_the_second_drill(tmp_path: Path, kit: Any) -> None:
    plan = plan_with(tmp_path, history=tmp_path / "h.sqlite")
    first = write_drill_reports(kit.make_journal(drill_id="d1"), {}, tmp_path / "r1", plan=plan)
    assert 'id="trend"><p class="trend-empty"' in (first / "report.html").read_text()
    later = kit.make_journal(drill_id="d2", started=kit.make_journal().started_at.replace(day=27))
    second = write_drill_reports(later, {}, tmp_path / "r2", plan=plan)
    assert len((second / "report.html").read_text().split('class="point-rto"')) == 3


def test_a_failing_optional_step_does_not_stop_the_others(
    tmp_path: Path, kit: Any, logs: dict[str, str], receiver: tuple[str, list[bytes]]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    key, _ = keygen(tmp_path / "keys")
    plan = plan_with(tmp_path, metrics=blocker / "x.prom", webhook=receiver[0] + "/gone", sign_key=key)
    folder = write_drill_reports(kit.make_journal(), logs, tmp_path / "d", plan=plan)
    errors = (folder / "evidence-errors.txt").read_text()
    assert "metrics:" in errors and "webhook:" in errors and "bundle:" not in errors
    assert (folder / "evidence.tar.gz").is_file() and (folder / "report.html").is_file()
    assert "/gone" not in errors and "HTTP 404" in errors  # the webhook URL is a secret


def test_no_output_contains_a_token(
    tmp_path: Path, receiver: tuple[str, list[bytes]], kit: Any, logs: dict[str, str]
) -> None:
    """A JWT planted in a log and a phase detail (see conftest) is in no file, archive, row or POST."""
    url, got = receiver
    plan, _ = everything(tmp_path, url)
    journal = kit.make_journal()
    assert kit.token in journal.phases[3].detail and any(kit.token in t for t in logs.values())
    write_drill_reports(journal, logs, tmp_path / "reports" / "d1", plan=plan)
    token = kit.token.encode()
    checked = 0
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.parent.name != "keys":
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            assert token not in data, f"{path} contains the token"
            checked += 1
    assert checked >= 8
    assert got and all(token not in body for body in got)
    with sqlite3.connect(tmp_path / "history.sqlite") as con:
        assert all(token.decode() not in row[0] for row in con.execute("SELECT record FROM drills"))


def test_the_token_check_would_catch_a_leak(tmp_path: Path, kit: Any) -> None:
    """Without redaction the planted token is present: the test above is not vacuous."""
    from spdrill.evidence.record import record_json

    assert kit.token in record_json(kit.make_journal())


def run_args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_run_options(p)
    return p.parse_args(list(argv))


def test_run_options_override_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPDRILL_WEBHOOK", raising=False)
    key, _ = keygen(tmp_path / "keys")
    plan = plan_with(tmp_path, metrics=tmp_path / "plan.prom")
    got = apply_run_options(
        plan,
        run_args(
            "--sign",
            str(key),
            "--history",
            str(tmp_path / "h.sqlite"),
            "--webhook",
            "https://hooks.example/x",
        ),
    )
    assert got.evidence.sign_key == key and got.evidence.history == tmp_path / "h.sqlite"
    assert (
        got.evidence.metrics == tmp_path / "plan.prom" and got.evidence.webhook == "https://hooks.example/x"
    )
    assert got.evidence.dir == plan.evidence.dir
    monkeypatch.setenv("SPDRILL_WEBHOOK", "https://env.example/y")
    assert apply_run_options(plan, run_args()).evidence.webhook == "https://env.example/y"


def test_run_options_refuse_a_bad_key_or_url_before_the_drill(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("nope")
    plan = plan_with(tmp_path)
    with pytest.raises(InputError, match="bad.key"):
        apply_run_options(plan, run_args("--sign", str(bad)))
    with pytest.raises(UsageError, match="--webhook"):
        apply_run_options(plan, run_args("--webhook", "ftp://x"))
