import os
import sys
import time
from pathlib import Path

import pytest

from spdrill.errors import PlanError, TargetError
from spdrill.plan import parse_plan
from spdrill.targets import make_target
from spdrill.targets.local import LocalTarget, standby_env


def test_standby_env_scrubs_live_lotus_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULLNODE_API_INFO", "tok:/ip4/10.0.0.1/tcp/1234/http")
    monkeypatch.setenv("LOTUS_PATH", "/home/sp/.lotus")
    env = standby_env({"LOTUS_PATH": "/drill/lotus"}, drill_id="d1", bindir="/opt/bin")
    assert "FULLNODE_API_INFO" not in env
    assert env["LOTUS_PATH"] == "/drill/lotus"
    assert env["PATH"].startswith("/opt/bin" + os.pathsep)
    assert env["SPDRILL_DRILL"] == "d1"


def test_options_validated() -> None:
    with pytest.raises(PlanError, match="target.local.color"):
        LocalTarget.validate({"color": "x"})


def test_spawn_run_and_close_leave_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = make_target(parse_plan(f'[drill]\nactor = "f01000"\n[target.local]\nworkdir = "{tmp_path}"\n'))
    assert isinstance(t, LocalTarget)
    root = t.open("t1")
    assert root.is_dir()
    res = t.run([sys.executable, "-c", "import os;print(os.environ['SPDRILL_DRILL'])"], env={}, timeout=30)
    assert res.returncode == 0 and res.stdout.strip() == "t1"
    # a role that ignores SIGTERM and leaves a child in its group: both must go
    code = ("import os,signal,subprocess,sys,time;signal.signal(signal.SIGTERM,signal.SIG_IGN);"
            "subprocess.Popen([sys.executable,'-c','import time;time.sleep(60)']);"
            "print('up',flush=True);time.sleep(60)")
    t.spawn("daemon", [sys.executable, "-c", code], env={}, port=0)
    for _ in range(50):
        if "up" in t.logs().get("daemon", ""):
            break
        time.sleep(0.1)
    assert t.exit_code("daemon") is None
    monkeypatch.setattr("spdrill.targets.local.STOP_GRACE_S", 1.0)
    t.close()
    assert not root.exists()
    from spdrill.reaper import drill_processes

    assert "t1" not in drill_processes().values()


def test_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    t = LocalTarget({"workdir": str(tmp_path)})
    t.open("t2")
    try:
        with pytest.raises(TargetError, match="program not found"):
            t.run(["no-such-lotus-binary"], env={}, timeout=5)
    finally:
        t.close()


def test_unwritable_workdir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    t = LocalTarget({"workdir": str(blocker / "sub")})
    with pytest.raises(TargetError, match="cannot create the drill folder"):
        t.open("t3")
