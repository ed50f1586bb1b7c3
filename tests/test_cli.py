"""The spdrill command: plan example/check, check-backup, usage errors; exit codes, no tracebacks."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

SPDRILL = str(Path(sys.executable).with_name("spdrill"))


def spdrill(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPDRILL, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def backup_bytes(pairs: list[tuple[bytes, bytes]]) -> bytes:
    body = b"\x9f" + b"".join(b"\x82" + _bstr(k) + _bstr(v) for k, v in pairs) + b"\xff"
    return b"\x82" + body + b"\x58\x20" + hashlib.sha256(body).digest()


def _bstr(b: bytes) -> bytes:
    assert len(b) < 256
    return (bytes([0x40 + len(b)]) if len(b) < 24 else b"\x58" + bytes([len(b)])) + b


def test_plan_example_passes_plan_check(tmp_path: Path) -> None:
    out = spdrill("plan", "example")
    assert out.returncode == 0 and "filecoin/lotus-all-in-one" in out.stdout
    f = tmp_path / "plan.toml"
    f.write_text(out.stdout)
    chk = spdrill("plan", "check", str(f))
    assert chk.returncode == 0, chk.stderr
    assert "valid plan" in chk.stdout


def test_plan_check_names_field_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "plan.toml"
    f.write_text('[drill]\nactor = "f01000"\n[objectives]\nrpo = "a day"\n')
    out = spdrill("plan", "check", str(f))
    assert out.returncode == 2
    assert f"{f}: objectives.rpo: 'a day' is not a duration like" in out.stderr
    assert "Traceback" not in out.stderr


def test_check_backup_valid(tmp_path: Path) -> None:
    f = tmp_path / "b.cbor"
    f.write_bytes(backup_bytes([(b"/miner-address", b"\x00\xe8\x07"), (b"/sectors/1", b"x" * 40)]))
    out = spdrill("check-backup", str(f))
    assert out.returncode == 0, out.stderr
    assert "2 keys" in out.stdout and "f01000" in out.stdout


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda b: b[:-5], "trunc"),
    (lambda b: b + b"\x00\x01", "trailing"),
    (lambda b: b[:10] + bytes([b[10] ^ 0xFF]) + b[11:], ""),
    (lambda b: b"\x83" + b[1:], ""),
])
def test_check_backup_invalid_exits_1(tmp_path: Path, mutate: object, reason: str) -> None:
    f = tmp_path / "b.cbor"
    good = backup_bytes([(b"/miner-address", b"\x00\xe8\x07"), (b"/sectors/1", b"x" * 40)])
    f.write_bytes(mutate(good))  # type: ignore[operator]
    out = spdrill("check-backup", str(f))
    assert out.returncode == 1, out.stdout
    assert "INVALID" in out.stderr and reason in out.stderr.lower()
    assert "Traceback" not in out.stderr


def test_check_backup_missing_file_exits_2(tmp_path: Path) -> None:
    out = spdrill("check-backup", str(tmp_path / "nope.cbor"))
    assert out.returncode == 2 and "no such file" in out.stderr


def test_usage_error_exits_2() -> None:
    out = spdrill("run", "--target", "moon")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_run_with_bad_plan_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "plan.toml"
    f.write_text('[drill]\nactor = "f01000"\n[target]\nkind = "local"\n[target.local]\nworkdir = "rel"\n')
    out = spdrill("run", "--plan", str(f))
    assert out.returncode == 2
    assert "target.local.workdir" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("kind", ["docker", "ssh"])
def test_plan_example_commented_targets_are_valid(tmp_path: Path, kind: str) -> None:
    """The example's commented [target.docker] / [target.ssh] tables pass `plan check` once switched on."""
    import re

    text = spdrill("plan", "example").stdout
    text = re.sub(rf"(?m)^# (\[target\.{kind}\])$", r"\1", text)
    section = text.split(f"[target.{kind}]", 1)[1].split("\n\n", 1)[0]
    text = text.replace(section, re.sub(r"(?m)^# (?=[a-z_]+ = )", "", section))
    text = text.replace('kind = "local"   # local | docker | ssh | attach', f'kind = "{kind}"')
    f = tmp_path / "plan.toml"
    f.write_text(text)
    out = spdrill("plan", "check", str(f))
    assert out.returncode == 0, out.stderr
    assert f"on the {kind} target" in out.stdout
