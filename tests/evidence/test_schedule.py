"""`spdrill schedule`: systemd units that systemd-analyze accepts, a crontab line, a CronJob that parses."""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from spdrill.errors import UsageError
from spdrill.evidence.cli import dispatch, register
from spdrill.evidence.schedule import Schedule, cron_line, kubernetes_cronjob, systemd_units


def cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command"))
    rc = dispatch(p.parse_args(list(argv)))
    assert rc is not None
    return rc


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    (tmp_path / "backups").mkdir()
    p = tmp_path / "plan 100%.toml"  # a space and a percent sign: both need quoting somewhere
    p.write_text(
        f'[drill]\nactor = "f01234"\nname = "nightly"\n[[restore.source]]\nkind = "directory"\n'
        f'path = "{tmp_path / "backups"}"\n[reports]\ndir = "{tmp_path / "reports"}"\n'
    )
    return p


def sections(text: str) -> dict[str, str]:
    """The unit files of `systemd_units`, keyed by the path in their heading comment."""
    out: dict[str, str] = {}
    current = ""
    for line in text.splitlines(keepends=True):
        if line.startswith("# /etc/systemd/system/"):
            current = line[2:].strip()
            out[current] = ""
        elif current and not line.startswith("# then:"):
            out[current] += line
    return out


def test_systemd_units_pass_systemd_analyze(tmp_path: Path, plan: Path, kit: Any) -> None:
    exe = shutil.which("true") or "/bin/true"
    s = Schedule(
        plan=plan, reports=tmp_path / "reports", spdrill=exe, sign_key=tmp_path / "k" / "drill-signing.key"
    )
    units = sections(systemd_units(s))
    assert set(units) == {"/etc/systemd/system/spdrill.service", "/etc/systemd/system/spdrill.timer"}
    service = units["/etc/systemd/system/spdrill.service"]
    assert "OnCalendar=Sun *-*-* 03:00:00" in units["/etc/systemd/system/spdrill.timer"]
    assert "plan 100%%.toml" in service and "Type=oneshot" in service and "--sign" in service
    if not shutil.which("systemd-analyze"):
        kit.unavailable("systemd-analyze is missing (Debian systemd); it checks the generated units")
    folder = tmp_path / "units"
    folder.mkdir()
    for name, text in units.items():
        (folder / Path(name).name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(folder / "spdrill.service"), str(folder / "spdrill.timer")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    cal = subprocess.run(
        ["systemd-analyze", "calendar", "Sun *-*-* 03:00:00"], capture_output=True, text=True
    )
    assert cal.returncode == 0 and "Next elapse" in cal.stdout


def test_systemd_analyze_rejects_a_broken_unit(tmp_path: Path, kit: Any) -> None:
    """The check above can fail: a unit with a bad setting is refused by the same command."""
    if not shutil.which("systemd-analyze"):
        kit.unavailable("systemd-analyze is missing (Debian systemd)")
    bad = tmp_path / "spdrill.service"
    bad.write_text("[Service]\nType=oneshot\nExecStart=relative/path run\n")
    done = subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "absolute path" in done.stderr


def test_cron_line_runs_the_plan_and_escapes_percent(tmp_path: Path, plan: Path) -> None:
    line = cron_line(Schedule(plan=plan, reports=tmp_path / "reports", cron="15 2 * * *"))
    fields = line.split(" ", 5)
    assert fields[:5] == ["15", "2", "*", "*", "*"]
    assert "%" not in line.replace("\\%", "")  # cron turns a bare % into a newline
    argv = shlex.split(fields[5].split(" >>")[0].replace("\\%", "%"))
    assert argv == [
        "spdrill",
        "run",
        "--plan",
        str(plan.resolve()),
        "--reports",
        str((tmp_path / "reports").resolve()),
    ]


def test_kubernetes_cronjob_parses_as_yaml(tmp_path: Path, plan: Path, kit: Any) -> None:
    s = Schedule(
        plan=plan,
        reports=tmp_path / "reports",
        sign_key=Path("k.key"),
        history=Path("h.sqlite"),
        metrics=Path("m.prom"),
        image="registry.local/spdrill:0.1.0",
    )
    text = kubernetes_cronjob(s)
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        kit.unavailable("PyYAML is missing from the venv (pip install -e '.[test]'); it parses the CronJob")
        raise
    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "CronJob"
    spec = doc["spec"]
    assert spec["schedule"] == "0 3 * * 0" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"] == "registry.local/spdrill:0.1.0" and c["command"] == ["spdrill"]
    assert c["args"] == [
        "run",
        "--plan",
        "/etc/spdrill/plan.toml",
        "--reports",
        "/reports",
        "--sign",
        "/etc/spdrill/key/drill-signing.key",
        "--metrics",
        "/reports/spdrill.prom",
        "--history",
        "/reports/history.sqlite",
    ]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["reports"]["mountPath"] == "/reports" and mounts["plan"]["readOnly"] is True
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["reports"]["persistentVolumeClaim"]["claimName"] == "spdrill-reports"
    assert vols["key"]["secret"]["defaultMode"] == 0o400


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("--name", {"name": "Bad Name"}),
        ("--cron", {"cron": "* * *"}),
        ("--on-calendar", {"on_calendar": "a\nb"}),
    ],
)
def test_bad_schedule_settings_are_usage_errors(tmp_path: Path, field: str, kwargs: dict[str, str]) -> None:
    with pytest.raises(UsageError, match=field):
        Schedule(plan=tmp_path / "p.toml", reports=tmp_path, **kwargs)  # type: ignore[arg-type]


def test_schedule_command(plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("schedule", "--cron", "--plan", str(plan)) == 0
    out = capsys.readouterr().out
    assert out.startswith("0 3 * * 0 spdrill run --plan") and str(plan.parent / "reports") in out
    assert cli("schedule", "--systemd", "--plan", str(plan), "--name", "drill-a") == 0
    assert "# /etc/systemd/system/drill-a.timer" in capsys.readouterr().out
    assert cli("schedule", "--kubernetes", "--plan", str(plan)) == 0
    assert "kind: CronJob" in capsys.readouterr().out
    assert cli("schedule", "--cron", "--plan", str(plan.parent / "missing.toml")) == 2
    assert cli("schedule", "--cron", "--plan", str(plan), "--schedule", "bad") == 2
    assert "Traceback" not in capsys.readouterr().err
