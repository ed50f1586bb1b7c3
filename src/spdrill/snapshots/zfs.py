"""ZFS snapshots of one dataset as restore points; workspaces are marked `zfs clone`s, destroyed after."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from spdrill.errors import InputError, PlanError, TargetError, UsageError

from .base import Options, RestorePoint, Workspace, check_drill_id
from .cleanup import owner_alive, owner_tag
from .runner import CommandRunner, check, checked

__all__ = ["ZfsSource", "ZfsSnapshot", "parse_snapshot_list", "reap_clones", "from_options"]

DRILL_PROPERTY = "spdrill:drill"
OWNER_PROPERTY = "spdrill:owner"
_TIMEOUT = 120.0
# What zfs says when it is installed but cannot work: zfs-fuse without its daemon, OpenZFS without its module.
_NO_ZFS = ("failed to initialize ZFS library", "zfs-fuse daemon is running", "modules are not loaded")
_DATASET_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/")

ZfsSnapshot = tuple[str, datetime, int]  # name, creation, userrefs (holds)


def _local_tz() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def parse_snapshot_list(text: str, *, parsable: bool, tz: tzinfo | None = None) -> list[ZfsSnapshot]:
    """Parse `zfs list -H [-p] -o name,creation,userrefs` output; dates without -p are in the host's zone."""
    snapshots: list[ZfsSnapshot] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise InputError(
                f"zfs list output line {number}: expected 3 tab-separated fields "
                f"(name, creation, userrefs), found {len(fields)}: {line!r}"
            )
        name, creation, userrefs = fields
        try:
            if parsable:
                created = datetime.fromtimestamp(int(creation), UTC)
            else:
                # zfs-fuse and OpenZFS without -p print ctime-like local times, e.g. "Thu Nov 26 02:00 2026".
                naive = datetime.strptime(" ".join(creation.split()), "%a %b %d %H:%M %Y")
                created = naive.replace(tzinfo=tz or _local_tz()).astimezone(UTC)
            holds = 0 if userrefs == "-" else int(userrefs)
        except ValueError as exc:
            raise InputError(
                f"zfs list output line {number}: cannot read creation {creation!r} or userrefs {userrefs!r} ({exc})"
            ) from exc
        snapshots.append((name, created, holds))
    return sorted(snapshots, key=lambda s: s[1])


class ZfsSource:
    """Snapshots of one ZFS dataset (optionally only those named `<prefix>…`)."""

    kind = "zfs"

    def __init__(self, dataset: str, runner: CommandRunner, *, snapshot_prefix: str = "") -> None:
        self.dataset = dataset
        self.name = dataset
        self.runner = runner
        self.snapshot_prefix = snapshot_prefix

    def _list(self) -> list[ZfsSnapshot]:
        what = f"list snapshots of {self.dataset}"
        argv = ["zfs", "list", "-H", "-p", "-t", "snapshot", "-o", "name,creation,userrefs",
                "-s", "creation", "-d", "1", self.dataset]  # fmt: skip
        done = self.runner.run(argv, timeout=_TIMEOUT)
        if done.returncode == 0:
            return parse_snapshot_list(done.stdout, parsable=True)
        if "invalid option 'p'" not in done.stderr:
            checked(done, what=what)
        # zfs-fuse (and Solaris-era zfs) has no -p for list: read its printed, minute-precise dates...
        argv.remove("-p")
        listed = parse_snapshot_list(check(self.runner, argv, timeout=_TIMEOUT, what=what).stdout, parsable=False)
        if not listed:
            return listed
        # ...then ask `zfs get -p`, which it does have, for the exact seconds; keep the minutes if it fails.
        exact = self.runner.run(
            ["zfs", "get", "-H", "-p", "-o", "name,value", "creation", *(s[0] for s in listed)],
            timeout=_TIMEOUT,
        )
        seconds = dict(line.split("\t", 1) for line in exact.stdout.splitlines() if "\t" in line)
        if exact.returncode != 0 or not all(seconds.get(name, "").isdigit() for name, _, _ in listed):
            return listed
        refined = [(name, datetime.fromtimestamp(int(seconds[name]), UTC), holds) for name, _, holds in listed]
        return sorted(refined, key=lambda s: s[1])

    def _snapshot_dir(self) -> Path | None:
        done = self.runner.run(["zfs", "get", "-H", "-o", "value", "mountpoint", self.dataset], timeout=_TIMEOUT)
        mountpoint = done.stdout.strip()
        if done.returncode != 0 or not mountpoint.startswith("/"):
            return None
        snapdir = Path(mountpoint) / ".zfs" / "snapshot"
        # zfs-fuse has no .zfs folder; then a snapshot's files are readable only through a clone.
        return snapdir if self.runner.run(["test", "-d", str(snapdir)], timeout=30).returncode == 0 else None

    def restore_points(self) -> list[RestorePoint]:
        """The dataset's snapshots (matching the prefix), oldest first; a hold marks one protected."""
        snapdir = self._snapshot_dir()
        points = []
        for name, created, holds in self._list():
            dataset, _, snap = name.partition("@")
            if dataset != self.dataset or not snap.startswith(self.snapshot_prefix):
                continue
            path = snapdir / snap if snapdir else None
            points.append(RestorePoint(self.kind, name, path, created, holds > 0))
        return points

    def create_workspace(self, rp: RestorePoint, drill_id: str, root: Path) -> Workspace:
        """Clone `rp` to `<pool>/spdrill-<id>-<n>` mounted under root, marked with the drill id."""
        check_drill_id(drill_id)
        if rp.kind != self.kind or not rp.name.startswith(self.dataset + "@"):
            raise UsageError(f"restore point {rp.name} is not a snapshot of ZFS dataset {self.dataset}")
        pool = self.dataset.split("/")[0]
        listed = check(
            self.runner,
            ["zfs", "list", "-H", "-o", "name", "-d", "1", pool],
            timeout=_TIMEOUT,
            what=f"list datasets of pool {pool}",
        )
        taken = set(listed.stdout.split())
        # Free in the pool and under root: two pools' clones of one drill may share a workspace root.
        n = next(
            i
            for i in range(10_000)
            if f"{pool}/spdrill-{drill_id}-{i}" not in taken
            and self.runner.run(["test", "-e", str(root / f"spdrill-{drill_id}-zfs-{i}")], timeout=30).returncode != 0
        )
        clone = f"{pool}/spdrill-{drill_id}-{n}"
        mountpoint = root / f"spdrill-{drill_id}-zfs-{n}"
        marks = [
            f"{DRILL_PROPERTY}={drill_id}",
            f"{OWNER_PROPERTY}={owner_tag()}",
            "readonly=off",
            f"mountpoint={mountpoint}",
        ]
        argv = ["zfs", "clone", *(arg for mark in marks for arg in ("-o", mark)), rp.name, clone]
        check(self.runner, argv, timeout=_TIMEOUT, what=f"clone {rp.name} to {clone}")
        return Workspace(
            mountpoint,
            rp,
            drill_id,
            lambda: _destroy_clone(self.runner, clone, mountpoint),
            method="zfs clone",
        )


# zfs-fuse answers "dataset is busy" for about a second after the last file access in a clone.
_RETRY_BUSY = Retrying(
    stop=stop_after_attempt(10),
    wait=wait_fixed(0.5),
    retry=retry_if_exception_type(TargetError),
    reraise=True,
)


def _destroy_clone(runner: CommandRunner, clone: str, mountpoint: Path | None) -> None:
    """Destroy one clone (never -r/-R, so nothing but the clone can go) and its empty mount folder."""
    if runner.run(["zfs", "list", "-H", "-o", "name", clone], timeout=_TIMEOUT).returncode == 0:
        _RETRY_BUSY(check, runner, ["zfs", "destroy", "-f", clone], timeout=_TIMEOUT, what=f"destroy clone {clone}")
    if mountpoint is not None:
        runner.run(["rmdir", str(mountpoint)], timeout=30)


def reap_clones(runner: CommandRunner, drill_id: str | None) -> list[str]:
    """Destroy clones marked for `drill_id` (None: those whose drill process is gone); names removed."""
    argv = [
        "zfs",
        "get",
        "-H",
        "-s",
        "local",
        "-o",
        "name,property,value",
        f"{DRILL_PROPERTY},{OWNER_PROPERTY},mountpoint",
    ]
    done = runner.run(argv, timeout=_TIMEOUT)
    if done.returncode == 127 or any(s in done.stdout + done.stderr for s in _NO_ZFS):
        return []  # no zfs tools, daemon or module on this host: nothing of ours can exist
    checked(done, what="list marked ZFS clones")
    props: dict[str, dict[str, str]] = {}
    for line in done.stdout.splitlines():
        name, prop, value = (line.split("\t") + ["", ""])[:3]
        props.setdefault(name, {})[prop] = value
    removed = []
    for name, p in sorted(props.items()):
        drill = p.get(DRILL_PROPERTY)
        if drill is None or "@" in name or not name.rpartition("/")[2].startswith("spdrill-"):
            continue
        if (drill_id is not None and drill != drill_id) or (
            drill_id is None and owner_alive(p.get(OWNER_PROPERTY, ""))
        ):
            continue
        mp = p.get("mountpoint", "")
        _destroy_clone(runner, name, Path(mp) if mp.startswith("/") else None)
        removed.append(name)
    return removed


def from_options(opts: Options, runner: CommandRunner) -> ZfsSource:
    """Build a ZfsSource from its plan table."""
    dataset = opts.required("dataset", form='a dataset name such as "tank/lotus"')
    if "@" in dataset or dataset.startswith("/") or not set(dataset) <= _DATASET_CHARS:
        raise PlanError(
            f'expected a dataset name such as "tank/lotus" (no "@", no leading "/"), found {dataset!r}',
            field=f"{opts.where}.dataset",
        )
    prefix = opts.string("snapshot_prefix", form='a snapshot name prefix such as "auto-"', default="") or ""
    if "@" in prefix or "/" in prefix:
        raise PlanError(
            f'expected a snapshot name prefix such as "auto-", found {prefix!r}',
            field=f"{opts.where}.snapshot_prefix",
        )
    return ZfsSource(dataset, runner, snapshot_prefix=prefix)
