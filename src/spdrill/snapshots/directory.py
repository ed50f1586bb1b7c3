"""Restore points that are timestamped backup folders or tarballs in one folder (or one such folder)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from spdrill.errors import PlanError, TargetError, UsageError

from .base import Options, RestorePoint, Workspace, check_drill_id
from .cleanup import claim_slot, remove_marked
from .runner import CommandRunner, check

__all__ = ["DirectorySource", "timestamp_in_name", "from_options"]

log = logging.getLogger("spdrill.snapshots")

_TARBALL = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
# 2026-11-26T0200Z, 20261126-020000, 2026-11-26_02-00, auto-2026-11-26_0200, miner-20261126T020000Z.cbor
_STAMP = re.compile(
    r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T_ -]?(\d{2})[:.-]?(\d{2})(?:[:.-]?(\d{2}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?(?!\d)"
)
_COPY_TIMEOUT = 6 * 3600.0


def timestamp_in_name(name: str) -> datetime | None:
    """The UTC time a backup's name carries (no zone given means UTC), or None if it carries none."""
    for m in _STAMP.finditer(name):
        year, month, day, hour, minute, second, zone = m.groups()
        tz: timezone = UTC
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        try:
            stamp = datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=tz
            )
        except ValueError:
            continue  # digits that only look like a date, e.g. 20261399
        return stamp.astimezone(UTC)
    return None


class DirectorySource:
    """Backup folders or tarballs named by time (or ordered by mtime); workspaces are copies or overlays."""

    kind = "directory"

    def __init__(
        self,
        path: Path,
        runner: CommandRunner,
        *,
        single: bool = False,
        select: str = "name",
        pattern: str = "*",
        overlay: bool = False,
    ) -> None:
        self.path = path
        self.name = str(path)
        self.runner = runner
        self.single = single
        self.select = select
        self.pattern = pattern
        self.overlay = overlay

    def _created(self, name: str, mtime: str) -> datetime:
        stamp = timestamp_in_name(name) if self.select == "name" else None
        # select = "name" falls back to mtime for a name without a timestamp rather than dropping the entry.
        return stamp or datetime.fromtimestamp(float(mtime), UTC)

    def restore_points(self) -> list[RestorePoint]:
        """All backup folders and tarballs matching the pattern, oldest first."""
        if self.runner.run(["test", "-d", str(self.path)], timeout=30).returncode != 0:
            raise TargetError(
                f"restore-point folder {self.path} does not exist or is not a folder: "
                "check the source's `path` in the plan"
            )
        depth = ["-maxdepth", "0"] if self.single else ["-mindepth", "1", "-maxdepth", "1", "-name", self.pattern]
        listing = check(
            self.runner,
            ["find", str(self.path), *depth, "-printf", r"%T@\t%y\t%f\n"],
            timeout=60,
            what=f"list {self.path}",
        )
        points = []
        for line in listing.stdout.splitlines():
            mtime, ftype, name = line.split("\t", 2)
            if name.startswith((".", "spdrill-")):
                continue  # hidden files and our own workspaces are never restore points
            if ftype != "d" and not (ftype == "f" and name.endswith(_TARBALL)):
                continue
            path = self.path if self.single else self.path / name
            points.append(RestorePoint(self.kind, str(path), path, self._created(name, mtime), None))
        return sorted(points, key=lambda rp: (rp.created, rp.name))

    def create_workspace(self, rp: RestorePoint, drill_id: str, root: Path) -> Workspace:
        """Copy (reflink where possible), overlay or unpack `rp` into a marked slot under root."""
        check_drill_id(drill_id)
        if rp.kind != self.kind or rp.path is None:
            raise UsageError(f"restore point {rp.name} is a {rp.kind} restore point, not a directory one")
        tarball = rp.path.name.endswith(_TARBALL)
        mode = "overlay" if self.overlay and not tarball else "copy"
        slot = claim_slot(self.runner, root, drill_id, self.kind, mode, rp.name)
        try:
            path, method = self._fill(slot, rp.path, mode, tarball)
        except BaseException:
            remove_marked(self.runner, slot, mode)
            raise
        return Workspace(path, rp, drill_id, lambda: remove_marked(self.runner, slot, mode), method=method)

    def _fill(self, slot: Path, src: Path, mode: str, tarball: bool) -> tuple[Path, str]:
        run = self.runner
        if tarball:
            check(run, ["mkdir", "-p", str(slot)], timeout=30, what=f"create workspace {slot}")
            # GNU tar detects the compression from the file itself (gzip, xz, bzip2, zstd).
            check(
                run,
                ["tar", "-xf", str(src), "-C", str(slot)],
                timeout=_COPY_TIMEOUT,
                what=f"unpack {src} into {slot}",
            )
            return slot, "tar extract"
        if mode == "overlay":
            merged = slot / "merged"
            check(
                run,
                ["mkdir", "-p", str(slot / "upper"), str(slot / "work"), str(merged)],
                timeout=30,
                what=f"create overlay folders in {slot}",
            )
            why = "its path holds ',' or ':', which overlay mount options cannot carry"
            if not any(c in str(src) + str(slot) for c in ",:"):
                opts = f"lowerdir={src},upperdir={slot / 'upper'},workdir={slot / 'work'}"
                done = run.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)], timeout=60)
                if done.returncode == 0:
                    return merged, "overlay"
                why = (done.stderr.strip() or f"mount exited {done.returncode}").splitlines()[-1]
            log.warning("overlay workspace for %s not possible (%s); copying instead (overlay needs root)", src, why)
            check(run, ["rm", "-rf", "--one-file-system", str(slot)], timeout=60, what=f"clear {slot}")
        check(
            run,
            ["cp", "-a", "--reflink=auto", "-T", str(src), str(slot)],
            timeout=_COPY_TIMEOUT,
            what=f"copy {src} to {slot}",
        )
        return slot, "copy (reflink=auto)"


def from_options(opts: Options, runner: CommandRunner) -> DirectorySource:
    """Build a DirectorySource from its plan table."""
    path = Path(opts.required("path", form="an absolute folder path"))
    if not path.is_absolute():
        raise PlanError(f"expected an absolute folder path, found {str(path)!r}", field=f"{opts.where}.path")
    return DirectorySource(
        path,
        runner,
        single=opts.boolean("single", default=False),
        select=opts.choice("select", ("name", "mtime"), default="name"),
        pattern=opts.string("pattern", form='a glob such as "20*"', default="*") or "*",
        overlay=opts.boolean("overlay", default=False),
    )
