"""Read-only btrfs subvolume snapshots under one folder; workspaces are writable snapshots of them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from spdrill.errors import InputError, PlanError, TargetError, UsageError

from .base import Options, RestorePoint, Workspace, check_drill_id
from .cleanup import claim_slot, remove_marked
from .runner import CommandRunner, check

__all__ = ["BtrfsSource", "parse_subvolume_show", "from_options"]

_TIMEOUT = 120.0


def parse_subvolume_show(text: str) -> tuple[datetime, bool]:
    """Creation time and read-only flag from `btrfs subvolume show` output."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key and key not in fields:
            fields[key] = value.strip()
    try:
        created = datetime.strptime(fields["Creation time"], "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)
    except (KeyError, ValueError) as exc:
        raise InputError(
            "btrfs subvolume show: expected a 'Creation time: YYYY-MM-DD HH:MM:SS +zzzz' line, "
            f"found {fields.get('Creation time')!r}"
        ) from exc
    return created, "readonly" in fields.get("Flags", "").split()


class BtrfsSource:
    """The subvolume snapshots directly under one folder; a read-only flag marks one protected."""

    kind = "btrfs"

    def __init__(
        self, path: Path, runner: CommandRunner, *, pattern: str = "*", workspace_root: Path | None = None
    ) -> None:
        self.path = path
        self.name = str(path)
        self.runner = runner
        self.pattern = pattern
        # A writable snapshot must live on the snapshots' own filesystem, which the drill's folder may not be.
        self.workspace_root = workspace_root

    def restore_points(self) -> list[RestorePoint]:
        """Every subvolume under the folder, oldest first; plain folders there are ignored."""
        listing = check(
            self.runner,
            ["find", str(self.path), "-mindepth", "1", "-maxdepth", "1", "-type", "d",
             "-name", self.pattern, "-printf", r"%f\n"],
            timeout=60,
            what=f"list btrfs snapshots in {self.path} (check the source's `path` in the plan)",
        )  # fmt: skip
        points = []
        for name in sorted(listing.stdout.splitlines()):
            if name.startswith("spdrill-"):
                continue  # our own workspaces, should root be this folder
            path = self.path / name
            shown = self.runner.run(["btrfs", "subvolume", "show", str(path)], timeout=_TIMEOUT)
            if shown.returncode == 127:
                check(self.runner, ["btrfs", "--version"], timeout=30, what="run btrfs (btrfs-progs)")
            if shown.returncode != 0:
                continue  # "Not a Btrfs subvolume": an ordinary folder beside the snapshots
            created, readonly = parse_subvolume_show(shown.stdout)
            points.append(RestorePoint(self.kind, str(path), path, created, readonly))
        return sorted(points, key=lambda rp: (rp.created, rp.name))

    def create_workspace(self, rp: RestorePoint, drill_id: str, root: Path) -> Workspace:
        """Take a writable snapshot of `rp` at `<root>/spdrill-<id>-btrfs-<n>` (workspace_root if set)."""
        check_drill_id(drill_id)
        if rp.kind != self.kind or rp.path is None:
            raise UsageError(f"restore point {rp.name} is a {rp.kind} restore point, not a btrfs one")
        root = self.workspace_root or root
        slot = claim_slot(self.runner, root, drill_id, self.kind, "btrfs", rp.name)
        done = self.runner.run(["btrfs", "subvolume", "snapshot", str(rp.path), str(slot)], timeout=_TIMEOUT)
        if done.returncode != 0:
            remove_marked(self.runner, slot, "btrfs")
            complaint = (done.stderr.strip() or f"exit {done.returncode}").splitlines()[-1]
            raise TargetError(
                f"could not snapshot {rp.path} to {slot}: {complaint}; the workspace root must be a folder "
                "on the same btrfs filesystem as the snapshots: set the source's `workspace_root` in the plan"
            )
        return Workspace(slot, rp, drill_id, lambda: remove_marked(self.runner, slot, "btrfs"),
                         method="btrfs snapshot")  # fmt: skip


def from_options(opts: Options, runner: CommandRunner) -> BtrfsSource:
    """Build a BtrfsSource from its plan table."""
    path = Path(opts.required("path", form="an absolute folder path holding read-only snapshots"))
    if not path.is_absolute():
        raise PlanError(f"expected an absolute folder path, found {str(path)!r}", field=f"{opts.where}.path")
    pattern = opts.string("pattern", form='a glob such as "lotus-*"', default="*") or "*"
    form = "an absolute folder on the snapshots' btrfs filesystem"
    root = opts.string("workspace_root", form=form)
    if root is not None and not Path(root).is_absolute():
        raise PlanError(f"expected {form}, found {root!r}", field=f"{opts.where}.workspace_root")
    return BtrfsSource(path, runner, pattern=pattern, workspace_root=Path(root) if root else None)
