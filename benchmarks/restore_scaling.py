"""Workspace creation time for a 1 GiB and an 8 GiB restore point: ZFS clone, btrfs snapshot, plain copy.

Usage (root; needs zfs-fuse, btrfs-progs, loop devices, about 2 x the largest size free on --dir):
    .venv/bin/python benchmarks/restore_scaling.py [--sizes 1,8] [--kinds zfs,btrfs,copy] [--dir /var/tmp]

Each restore point is filled with random bytes (sparse or zero files would make a copy look free), the
page cache is dropped before each timing where allowed, a timing ends when `sync` returns (the
workspace's filesystem is on disk), and everything is destroyed afterwards. Single timings go to stderr.
Target: clone and snapshot ratio (8 GiB / 1 GiB) <= 1.5; a copy grows about linearly.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from spdrill.snapshots import LocalRunner, Source
from spdrill.snapshots.btrfs import BtrfsSource
from spdrill.snapshots.directory import DirectorySource
from spdrill.snapshots.zfs import ZfsSource

GiB = 1 << 30
CHUNK = 64 << 20


def sh(*argv: str) -> str:
    """Run a set-up command; stop the benchmark with its stderr if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def fill(folder: Path, size: int, seed: int) -> None:
    """Write `size` random bytes into 256 MiB files under folder (like sealed sectors), then sync."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    written, n = 0, 0
    while written < size:
        with (folder / f"s-t01000-{n}").open("wb") as f:
            for _ in range(min(256 << 20, size - written) // CHUNK):
                f.write(rng.randbytes(CHUNK))
                written += CHUNK
        n += 1
    sh("sync")


def drop_caches() -> None:
    """Drop the page cache so a copy reads from disk; quietly skipped where not allowed."""
    subprocess.run(["sync"], check=False)
    with contextlib.suppress(OSError), open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


@contextlib.contextmanager
def zfs_source(base: Path, size: int) -> Iterator[Source]:
    """A file-backed zfs-fuse pool holding one snapshot of `size` random bytes."""
    daemon = None
    if subprocess.run(["zpool", "list"], capture_output=True, check=False).returncode != 0:
        daemon = subprocess.Popen(
            ["zfs-fuse", "--no-daemon", "--no-kstat-mount"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(1)
    pool = f"spdb{uuid.uuid4().hex[:6]}"
    image = base / "pool.img"
    with image.open("wb") as f:
        f.truncate(size + size // 4 + GiB)
    sh("zpool", "create", "-o", "cachefile=none", "-m", str(base / "mnt"), pool, str(image))
    try:
        sh("zfs", "create", f"{pool}/lotus")
        fill(base / "mnt" / "lotus", size, seed=size)
        sh("zfs", "snapshot", f"{pool}/lotus@bench")
        yield ZfsSource(f"{pool}/lotus", LocalRunner())
    finally:
        for _ in range(20):  # zfs-fuse is "busy" for a moment after the last access
            if subprocess.run(["zpool", "destroy", "-f", pool], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.5)
        image.unlink()
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=60)


@contextlib.contextmanager
def btrfs_source(base: Path, size: int) -> Iterator[Source]:
    """A btrfs on a loop device holding one read-only snapshot of `size` random bytes."""
    image = base / "btrfs.img"
    with image.open("wb") as f:
        f.truncate(size + size // 4 + GiB)
    sh("mkfs.btrfs", "-q", str(image))
    loop = sh("losetup", "-f", "--show", str(image)).strip()
    mnt = base / "btrfs"
    mnt.mkdir()
    try:
        sh("mount", loop, str(mnt))
        sh("btrfs", "subvolume", "create", str(mnt / "live"))
        fill(mnt / "live", size, seed=size)
        (mnt / "snaps").mkdir()
        sh("btrfs", "subvolume", "snapshot", "-r", str(mnt / "live"), str(mnt / "snaps" / "2026-11-26T0200Z"))
        yield BtrfsSource(mnt / "snaps", LocalRunner())
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
        subprocess.run(["losetup", "-d", loop], check=False)
        image.unlink()


@contextlib.contextmanager
def copy_source(base: Path, size: int) -> Iterator[Source]:
    """A backup folder of `size` random bytes on the benchmark's own filesystem (cp --reflink=auto)."""
    fill(base / "backups" / "2026-11-26T0200Z", size, seed=size)
    yield DirectorySource(base / "backups", LocalRunner())


KINDS: dict[str, tuple[str, Callable[[Path, int], contextlib.AbstractContextManager[Source]]]] = {
    "zfs": ("zfs clone", zfs_source),
    "btrfs": ("btrfs snapshot", btrfs_source),
    "copy": ("plain copy", copy_source),
}


def measure(kind: str, size: int, where: Path, repeat: int) -> float:
    """Median seconds to create a workspace of a `size` restore point of `kind` (set-up not counted)."""
    with tempfile.TemporaryDirectory(dir=where, prefix="spdrill-bench-") as tmp:
        base = Path(tmp)
        with KINDS[kind][1](base, size) as source:
            (rp,) = source.restore_points()
            root = base / "btrfs" / "ws" if kind == "btrfs" else base / "ws"
            # One untimed round first: the first clone after a large write also pays for the pool's settling.
            source.create_workspace(rp, f"bench-{kind}", root).destroy()
            times = []
            for _ in range(repeat):
                drop_caches()
                start = time.perf_counter()
                ws = source.create_workspace(rp, f"bench-{kind}", root)
                # Until the workspace's own filesystem is on disk: a copy sitting in the page cache is not done
                # (plain `sync` would also charge it with zfs-fuse's unrelated background writes).
                sh("sync", "-f", str(ws.path))
                times.append(time.perf_counter() - start)
                ws.destroy()
            print(f"  {kind} {size / GiB:g} GiB: " + " ".join(f"{t:.3f}" for t in times), file=sys.stderr)
    return statistics.median(times)


def main() -> None:
    """Measure each kind at each size and print the times and the largest/smallest ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sizes", default="1,8", help="restore-point sizes in GiB, comma-separated (default 1,8)")
    ap.add_argument("--kinds", default="zfs,btrfs,copy", help="which of zfs,btrfs,copy to measure")
    ap.add_argument("--repeat", type=int, default=5, help="workspaces per size; the median counts (default 5)")
    ap.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="where images and copies go")
    args = ap.parse_args()
    # SIGTERM as an exit, so the `finally` blocks destroy the pools, loop devices and copies.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'workspace':<16}" + "".join(f"{s:>6} GiB" for s in sizes) + f"{'ratio':>10}   target")
    for kind in args.kinds.split(","):
        times = [measure(kind, s * GiB, args.dir, args.repeat) for s in sizes]
        ratio = times[-1] / times[0]
        target = "about linear" if kind == "copy" else "<= 1.5"
        ok = (ratio <= 1.5) if kind != "copy" else True
        cells = "".join(f"{t:>8.3f} s" for t in times)
        print(f"{KINDS[kind][0]:<16}{cells}{ratio:>9.2f}x   {target}{'' if ok else '  MISSED'}", flush=True)


if __name__ == "__main__":
    main()
