"""The lotus-sim command line: exit codes (0 ok, 2 usage), clear messages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lotus_sim.cli import main

NOW = "1764000000"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lotus_sim.cli", *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_make_fixture_then_fault_as_real_processes(tmp_path: Path) -> None:
    done = _run("make-fixture", str(tmp_path / "fx"), "--sectors", "10", "--now", NOW, "--fault", "missing-sector=3")
    assert done.returncode == 0, done.stderr
    assert "10 sectors of 2KiB" in done.stdout and "fault applied: missing-sector" in done.stdout
    again = _run("fault", str(tmp_path / "fx"), "truncated-sector", "4")
    assert again.returncode == 0, again.stderr
    faults = json.loads((tmp_path / "fx" / "fixture.json").read_text())["faults"]
    assert [(f["name"], f["sector"]) for f in faults] == [("missing-sector", 3), ("truncated-sector", 4)]


def test_usage_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    done = _run("make-fixture", str(tmp_path / "fx"), "--sector-size", "3KiB")
    assert done.returncode == 2 and "sector size '3KiB'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "fx").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["make-fixture", "{d}/new", "--sectors", "0"], "--sectors 0"),
        (["make-fixture", "{d}/new", "--deadlines", "49"], "--deadlines 49"),
        (["make-fixture", "{d}/new", "--snapshot-age", "soon"], "duration 'soon'"),
        (["make-fixture", "{d}/new", "--sectors", "4", "--sectors-after-backup", "5"], "--sectors-after-backup"),
        (["make-fixture", "{d}/new", "--miner", "f1abc"], "address"),
        (["make-fixture", "{d}/new", "--fault", "meteor"], "unknown fault"),
        (["make-fixture", "{d}/fx"], "not empty"),
        (["fault", "{d}/fx", "meteor"], "unknown fault 'meteor'"),
        (["fault", "{d}", "missing-sector"], "fixture.json"),
        (["fault", "{d}/fx", "missing-sector", "999"], "sector 999"),
        (["make-fixture"], "required"),
        ([], ""),
    ],
)
def test_bad_input_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["make-fixture", str(tmp_path / "fx"), "--sectors", "4", "--now", NOW]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        code = main([a.format(d=tmp_path) for a in args])
        raise SystemExit(code)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "new").exists()


def test_fault_help_lists_every_fault(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["fault", "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    for name in ("stale-snapshot", "corrupt-backup", "backup-trailing-bytes", "truncated-snapshot",
                 "missing-sector[=N]", "truncated-sector[=N]", "keys-in-wallet", "wrong-actor"):  # fmt: skip
        assert name in out


def test_bindir_is_dispatched(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bindir"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert {p.name for p in folder.iterdir()} >= {"lotus", "lotus-miner", "lotus-worker"}
