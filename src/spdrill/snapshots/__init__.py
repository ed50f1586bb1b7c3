"""Restore-point sources (directory, ZFS, btrfs), drill workspaces, snapshot sets and resilience checks.

The lead's entry points: `load_source` builds a Source from a plan table, `select_set` picks the restore
points a drill uses, `Source.create_workspace` makes the drill's writable copy, `retention_report` judges
protection and retention, `cleanup` reaps what a killed drill left.
"""

from .base import RestorePoint, Source, Workspace, check_drill_id, human_delta, load_source, source_kinds
from .cleanup import cleanup
from .retention import RetentionCheck, retention_report
from .runner import CommandResult, CommandRunner, LocalRunner
from .sets import SetMember, SnapshotSetChoice, choose, select_set

__all__ = [
    "CommandRunner",
    "CommandResult",
    "LocalRunner",
    "RestorePoint",
    "RetentionCheck",
    "SetMember",
    "SnapshotSetChoice",
    "Source",
    "Workspace",
    "check_drill_id",
    "choose",
    "cleanup",
    "human_delta",
    "load_source",
    "retention_report",
    "select_set",
    "source_kinds",
]
