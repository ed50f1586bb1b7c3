"""Targets, one small module each, loaded lazily by name (like testinfra's backends)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from spdrill.errors import PlanError
from spdrill.snapshots.runner import CommandRunner
from spdrill.targets.base import CommandResult, Target
from spdrill.workfs import LocalFS, WorkFS

_REGISTRY = {
    "local": "spdrill.targets.local:LocalTarget",
    "attach": "spdrill.targets.attach:AttachTarget",
    "docker": "spdrill.targets.docker:DockerTarget",
    "ssh": "spdrill.targets.ssh:SshTarget",
}

__all__ = ["CommandResult", "Target", "make_target", "publish_workspace", "source_runner_of", "validate_target_options",
           "workfs_of"]


def _cls(kind: str) -> Any:
    try:
        module, name = _REGISTRY[kind].split(":")
    except KeyError:
        raise PlanError(f"target {kind!r} is not available in this version; use one of: "
                        f"{', '.join(sorted(_REGISTRY))}", field="target.kind") from None
    return getattr(importlib.import_module(module), name)


def validate_target_options(kind: str, options: Mapping[str, Any]) -> None:
    """Check a target's plan options (PlanError naming the field)."""
    _cls(kind).validate(options)


def make_target(kind: str, options: Mapping[str, Any], **kwargs: Any) -> Target:
    """Build the target named by the plan."""
    target: Target = _cls(kind)(options, **kwargs)
    return target


def workfs_of(target: Target) -> WorkFS:
    """The file system of the target's drill folder: this host's unless the target says otherwise."""
    fs = getattr(target, "workfs", None)
    return fs() if callable(fs) else LocalFS()


def source_runner_of(target: Target) -> CommandRunner | None:
    """Where restore-point sources run their commands: the target's host when it restores remotely."""
    runner = getattr(target, "source_runner", None)
    return runner() if callable(runner) else None


def publish_workspace(target: Target) -> None:
    """Hand the restored drill folder to a target that keeps its own copy (a Docker volume); else nothing."""
    publish = getattr(target, "publish_workspace", None)
    if callable(publish):
        publish()
