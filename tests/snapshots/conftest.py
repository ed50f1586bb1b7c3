"""Real filesystems for the snapshot tests: file-backed zfs-fuse pools and btrfs on loop devices."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def unavailable(reason: str) -> None:
    """Skip with `reason`, but fail under CI=true, where every real part must be present."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and a real part is missing: {reason}")
    pytest.skip(reason)


def sh(*argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command of the test set-up, failing the test with its stderr if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def _ensure_package(program: str, package: str) -> str | None:
    """Install Debian's `package` if `program` is missing and we may; the reason it is unusable, or None."""
    if shutil.which(program):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"{program} is missing; installing it needs root and apt-get: apt-get install {package}"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
        if done.returncode != 0:
            return f"apt-get could not install {package}: {done.stderr.strip()[-300:]}"
    return None if shutil.which(program) else f"{package} installed but {program} is still missing"


def tree_hash(root: Path) -> str:
    """A digest of every path, mode, size, mtime and content under root: a source must keep it."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = Path(dirpath) / name
            st = path.lstat()
            digest.update(f"{path.relative_to(root)}|{st.st_mode}|{st.st_size}|{st.st_mtime_ns}\n".encode())
            if path.is_file() and not path.is_symlink():
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Create files (and their folders) under root."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below root, from /proc/self/mounts."""
    text = Path("/proc/self/mounts").read_text()
    return [m for m in (line.split()[1] for line in text.splitlines()) if m.startswith(str(root))]


@pytest.fixture(scope="session")
def zfs_daemon() -> Iterator[None]:
    """A working `zfs`: zfs-fuse installed and its daemon running (started here, and stopped, if needed)."""
    if not Path("/dev/fuse").exists():
        unavailable("/dev/fuse is missing: zfs-fuse needs FUSE")
    reason = _ensure_package("zfs-fuse", "zfs-fuse")
    if reason:
        unavailable(reason)
    started: subprocess.Popen[bytes] | None = None
    if sh("zpool", "list", check=False).returncode != 0:
        # --no-daemon keeps it our child, so we stop exactly the process we started.
        started = subprocess.Popen(["zfs-fuse", "--no-daemon", "--no-kstat-mount"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        for _ in range(50):
            if sh("zpool", "list", check=False).returncode == 0:
                break
            if started.poll() is not None:
                unavailable(f"zfs-fuse exited {started.returncode} at start")
            subprocess.run(["sleep", "0.1"], check=False)
        else:
            started.terminate()
            unavailable("zfs-fuse did not answer within 5 s")
    yield
    if started is not None:
        started.terminate()
        started.wait(timeout=30)


@dataclass
class Pool:
    """A file-backed zpool for one test."""

    name: str
    mountpoint: Path

    def dataset(self, leaf: str, files: dict[str, bytes]) -> tuple[str, Path]:
        """Create `<pool>/<leaf>` holding files; its name and mount folder."""
        name = f"{self.name}/{leaf}"
        sh("zfs", "create", name)
        write_tree(self.mountpoint / leaf, files)
        return name, self.mountpoint / leaf


@pytest.fixture
def zpool(zfs_daemon: None, tmp_path: Path) -> Iterator[Pool]:
    """A fresh 256 MiB file-backed pool; afterwards no pool, clone or mount of it may remain."""
    name = f"spdt{uuid.uuid4().hex[:8]}"
    image = tmp_path / "pool.img"
    with image.open("wb") as f:
        f.truncate(256 << 20)
    # cachefile=none: a pool the daemon remembered would come back at its next start, long after the test.
    sh("zpool", "create", "-o", "cachefile=none", "-m", str(tmp_path / "mnt"), name, str(image))
    yield Pool(name, tmp_path / "mnt")
    leftovers = sh("zfs", "get", "-H", "-s", "local", "-o", "name", "spdrill:drill", check=False).stdout.split()
    for _ in range(20):  # zfs-fuse reports "pool is busy" for about a second after the last file access
        if sh("zpool", "destroy", "-f", name, check=False).returncode == 0:
            break
        time.sleep(0.25)
    else:
        sh("zpool", "destroy", "-f", name)
    assert [d for d in leftovers if d.startswith(name + "/")] == [], "a drill clone outlived its test"
    assert name not in sh("zpool", "list", "-H", "-o", "name", check=False).stdout.split()
    assert mounts_under(tmp_path) == []


@pytest.fixture(scope="session")
def btrfs_tools() -> None:
    """btrfs-progs installed, the kernel knows btrfs, and loop devices can be attached."""
    reason = _ensure_package("mkfs.btrfs", "btrfs-progs")
    if reason:
        unavailable(reason)
    if "btrfs" not in Path("/proc/filesystems").read_text():
        unavailable("the kernel has no btrfs support (/proc/filesystems)")
    if os.geteuid() != 0 or not Path("/dev/loop-control").exists():
        unavailable("loop devices need root and /dev/loop-control")


@pytest.fixture
def btrfs_mount(btrfs_tools: None, tmp_path: Path) -> Iterator[Path]:
    """A fresh btrfs on a loop device, mounted; afterwards no mount or loop device of it may remain."""
    image = tmp_path / "btrfs.img"
    with image.open("wb") as f:
        f.truncate(256 << 20)
    sh("mkfs.btrfs", "-q", str(image))
    loop = sh("losetup", "-f", "--show", str(image)).stdout.strip()
    mnt = tmp_path / "btrfs"
    mnt.mkdir()
    try:
        sh("mount", loop, str(mnt))
        yield mnt
    finally:
        sh("umount", str(mnt), check=False)
        sh("losetup", "-d", loop, check=False)
    assert mounts_under(tmp_path) == []
    assert str(image) not in sh("losetup", "-a").stdout, f"loop device {loop} still attached"


@pytest.fixture
def make_btrfs_snapshot(btrfs_mount: Path) -> Callable[[str, dict[str, bytes], bool], Path]:
    """Create a subvolume with files and snapshot it (read-only unless told) into `<mount>/snaps/<name>`."""

    def make(name: str, files: dict[str, bytes], readonly: bool = True) -> Path:
        live = btrfs_mount / "live"
        if not live.exists():
            sh("btrfs", "subvolume", "create", str(live))
        write_tree(live, files)
        (btrfs_mount / "snaps").mkdir(exist_ok=True)
        target = btrfs_mount / "snaps" / name
        sh("btrfs", "subvolume", "snapshot", *(["-r"] if readonly else []), str(live), str(target))
        return target

    return make


@pytest.fixture
def hash_tree() -> Callable[[Path], str]:
    """The tree digest, for tests that prove a source was not modified."""
    return tree_hash


@pytest.fixture
def populate() -> Callable[[Path, dict[str, bytes]], None]:
    """Write files (and their folders) under a root."""
    return write_tree


@pytest.fixture
def missing_part() -> Callable[[str], None]:
    """The skip-or-fail rule for a missing real part, for the test that pins it down."""
    return unavailable
