"""Restore points, the Source protocol every kind meets, drill workspaces and the name→module registry."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from spdrill.errors import PlanError, UsageError

from .runner import CommandRunner, LocalRunner

__all__ = [
    "RestorePoint",
    "Source",
    "Workspace",
    "Options",
    "load_source",
    "source_kinds",
    "check_drill_id",
    "human_delta",
]

# Loaded lazily, as testinfra does with backends: `import spdrill.snapshots` pulls in no kind's module.
_REGISTRY: dict[str, str] = {
    "directory": "spdrill.snapshots.directory",
    "zfs": "spdrill.snapshots.zfs",
    "btrfs": "spdrill.snapshots.btrfs",
}

# Drill ids end up in ZFS dataset names, paths and property values, so they get the narrowest common alphabet.
_DRILL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

T = TypeVar("T")


@dataclass(frozen=True)
class RestorePoint:
    """One snapshot a drill can restore from; its age at drill start is the RPO."""

    kind: str
    name: str
    path: Path | None
    created: datetime
    protected: bool | None

    def age(self, now: datetime) -> timedelta:
        """How old this restore point is at `now` (the recovery point objective it achieves)."""
        return now - self.created


@runtime_checkable
class Source(Protocol):
    """Where restore points of one kind come from, and how a drill gets a writable copy of one."""

    kind: str
    name: str

    def restore_points(self) -> list[RestorePoint]:
        """All restore points of this source, oldest first."""
        ...

    def create_workspace(self, rp: RestorePoint, drill_id: str, root: Path) -> Workspace:
        """Make the drill's own writable copy of `rp` under `root`, marked with `drill_id`."""
        ...


class Workspace:
    """A drill's writable copy of one restore point; destroying it never touches the source."""

    def __init__(
        self,
        path: Path,
        restore_point: RestorePoint,
        drill_id: str,
        teardown: Callable[[], None],
        *,
        method: str = "",
    ) -> None:
        self.path = path
        self.method = method  # how it was made ("zfs clone", "overlay", ...), for the journal
        self.restore_point = restore_point
        self.drill_id = drill_id
        self._teardown: Callable[[], None] | None = teardown

    @property
    def destroyed(self) -> bool:
        """Whether destroy() has completed."""
        return self._teardown is None

    def destroy(self) -> None:
        """Remove the copy and its marks; calling it again does nothing."""
        if self._teardown is None:
            return
        self._teardown()
        self._teardown = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, from={self.restore_point.name!r}, drill={self.drill_id!r})"


def human_delta(delta: timedelta) -> str:
    """A duration as people read it: "1 d 2 h", "15 min", "0 s"."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{v} {u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s")) if v]
    return " ".join(parts) or "0 s"


def check_drill_id(drill_id: str) -> str:
    """Return `drill_id` if it is safe in dataset names and paths, else raise UsageError."""
    if not _DRILL_ID.fullmatch(drill_id):
        raise UsageError(
            f"drill id {drill_id!r} is not usable in dataset names and paths: expected 1-64 characters "
            "of letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return drill_id


class Options:
    """Typed reads of one plan table that remember what was read, so unknown keys can be refused."""

    def __init__(self, table: Mapping[str, object], where: str) -> None:
        self.table = table
        self.where = where
        self._seen: set[str] = {"kind"}

    def _get(self, key: str, typ: type[T], form: str, default: T | None) -> T | None:
        self._seen.add(key)
        if key not in self.table:
            return default
        value = self.table[key]
        # bool is an int in Python; a plan saying `count = true` is a mistake, not 1.
        if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
            raise PlanError(f"expected {form}, found {type(value).__name__} {value!r}", field=f"{self.where}.{key}")
        return value

    def string(self, key: str, *, form: str = "a string", default: str | None = None) -> str | None:
        """The string at `key`, `default` when absent."""
        value = self._get(key, str, form, default)
        if key in self.table and value is not None and not value.strip():
            raise PlanError(f"expected {form}, found an empty string", field=f"{self.where}.{key}")
        return value

    def required(self, key: str, *, form: str = "a string") -> str:
        """The string at `key`; its absence is a PlanError."""
        value = self.string(key, form=form)
        if value is None:
            raise PlanError(f"missing; expected {form}", field=f"{self.where}.{key}")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        """The boolean at `key`, `default` when absent."""
        value = self._get(key, bool, "true or false", default)
        assert value is not None
        return value

    def choice(self, key: str, choices: tuple[str, ...], *, default: str) -> str:
        """One of `choices` at `key`, `default` when absent."""
        form = " or ".join(f'"{c}"' for c in choices)
        value = self.string(key, form=form, default=default)
        if value not in choices:
            raise PlanError(f"expected {form}, found {value!r}", field=f"{self.where}.{key}")
        return value

    def finish(self) -> None:
        """Refuse keys nobody read: a typo must not silently fall back to a default."""
        unknown = sorted(set(self.table) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen - {"kind"}))
            raise PlanError(
                f"unknown key for a {self.table.get('kind')} source; known keys: {known}",
                field=f"{self.where}.{unknown[0]}",
            )


def source_kinds() -> tuple[str, ...]:
    """The source kinds a plan may name."""
    return tuple(_REGISTRY)


def load_source(table: Mapping[str, object], *, where: str, runner: CommandRunner | None = None) -> Source:
    """Build the Source one `[[restore.source]]` table describes, validating every key."""
    kind = table.get("kind")
    if not isinstance(kind, str) or kind not in _REGISTRY:
        raise PlanError(
            f"expected one of {', '.join(repr(k) for k in _REGISTRY)}, found {kind!r}", field=f"{where}.kind"
        )
    module = importlib.import_module(_REGISTRY[kind])
    opts = Options(table, where)
    source: Source = module.from_options(opts, runner or LocalRunner())
    opts.finish()
    return source
