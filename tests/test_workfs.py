"""The drill folder's file operations, here and through a command runner (a real shell on this host)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spdrill.errors import TargetError
from spdrill.snapshots.runner import LocalRunner
from spdrill.workfs import LocalFS, RunnerFS, WorkFS


@pytest.fixture(params=["local", "runner"])
def fs(request: pytest.FixtureRequest) -> WorkFS:
    return LocalFS() if request.param == "local" else RunnerFS(LocalRunner(), "this host")


def test_operations_agree(fs: WorkFS, tmp_path: Path) -> None:
    chain = tmp_path / "ws" / "chain"
    fs.mkdir(chain)
    assert fs.is_dir(chain) and not fs.is_file(chain)
    for name, mtime in (("snapshot-1.car.zst", 100), ("snapshot-2.car.zst", 300), ("snapshot-3.car", 200)):
        (chain / name).write_bytes(b"x")
        os.utime(chain / name, (mtime, mtime))
    assert fs.newest(tmp_path / "ws", "chain/*.car*") == tmp_path / "ws" / "chain" / "snapshot-2.car.zst"
    assert fs.newest(tmp_path / "ws", "backups/*.cbor") is None
    cfg = tmp_path / "ws" / "config.toml"
    text = "[Subsystems]\n  DisableWinningPoSt = true\n# ünïcode, 'quotes' and $HOME stay as they are\n"
    fs.write_text(cfg, text)
    assert fs.read_text(cfg) == text
    fs.symlink(tmp_path / "view", tmp_path / "ws")
    assert fs.resolve(tmp_path / "view") == (tmp_path / "ws").resolve()
    assert not fs.rmdir(tmp_path / "ws") and fs.rmdir(_empty(tmp_path / "empty"))
    fs.unlink(cfg)
    fs.unlink(cfg)  # twice is fine
    assert not fs.is_file(cfg)


def test_runner_refuses_unsafe_patterns(tmp_path: Path) -> None:
    fs = RunnerFS(LocalRunner(), "this host")
    for pattern in ("/etc/*", "../*", "chain/*; rm -rf /", "$(id)"):
        with pytest.raises(TargetError, match="unsafe pattern"):
            fs.newest(tmp_path, pattern)


def test_runner_read_error_names_the_host(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"gpu-host: cannot read .*nope"):
        RunnerFS(LocalRunner(), "gpu-host").read_text(tmp_path / "nope")


def _empty(p: Path) -> Path:
    p.mkdir()
    return p


def test_fetch_copies_bytes_and_mtime_and_refuses_what_is_too_big(fs: WorkFS, tmp_path: Path) -> None:
    src = tmp_path / "backups" / "miner.cbor"
    src.parent.mkdir()
    data = bytes(range(256)) * 4096 + b"\n\x00tail"  # every byte value, newlines and NULs: binary-safe or not
    src.write_bytes(data)
    os.utime(src, (1_700_000_000, 1_700_000_000))
    dest = tmp_path / "here.cbor"
    assert fs.fetch(src, dest, limit=len(data))
    assert dest.read_bytes() == data and dest.stat().st_mtime == 1_700_000_000
    assert not fs.fetch(src, tmp_path / "big.cbor", limit=len(data) - 1)
    assert not (tmp_path / "big.cbor").exists()
    with pytest.raises((TargetError, OSError)):
        fs.fetch(tmp_path / "missing.cbor", tmp_path / "m.cbor", limit=10)
