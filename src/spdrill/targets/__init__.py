"""Targets, one small module or package each, loaded lazily by name (like testinfra's backends).

`make_target(plan)` builds the plan's target; every target is a `Target` subclass built as
`Target(options, standby)`, so nothing outside this package needs to know which kind it is.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, overload

from spdrill.errors import PlanError
from spdrill.plan import Plan, Requirements, StandbySpec
from spdrill.snapshots.runner import CommandRunner
from spdrill.targets.base import CommandResult, Host, HostResult, ReapScope, Target
from spdrill.workfs import WorkFS

# The kinds a plan may name, in the order `spdrill cleanup` asks them (this host first, then engines, then hosts).
_REGISTRY = {
    "local": "spdrill.targets.local:LocalTarget",
    "attach": "spdrill.targets.attach:AttachTarget",
    "docker": "spdrill.targets.docker.target:DockerTarget",
    "ssh": "spdrill.targets.ssh.target:SshTarget",
}

__all__ = ["CommandResult", "Host", "HostResult", "ReapScope", "Target", "make_target", "publish_workspace",
           "source_runner_of", "target_class", "target_classes", "validate_target_options", "workfs_of"]


def target_class(kind: str) -> type[Target]:
    """The Target subclass of a plan's `[target] kind` (PlanError naming the kinds there are)."""
    try:
        module, name = _REGISTRY[kind].split(":")
    except KeyError:
        raise PlanError(f"target {kind!r} is not available in this version; use one of: "
                        f"{', '.join(sorted(_REGISTRY))}", field="target.kind") from None
    cls: type[Target] = getattr(importlib.import_module(module), name)
    return cls


def target_classes() -> Iterator[type[Target]]:
    """Every registered Target subclass, in registry order."""
    return (target_class(kind) for kind in _REGISTRY)


def validate_target_options(kind: str, options: Mapping[str, Any]) -> None:
    """Check a target's plan options (PlanError naming the field)."""
    target_class(kind).validate(options)


@overload
def make_target(plan: Plan, /) -> Target: ...


@overload
def make_target(kind: str, options: Mapping[str, Any], /, **standby: Any) -> Target: ...


def make_target(plan: Plan | str, options: Mapping[str, Any] | None = None, /, **standby: Any) -> Target:
    """Build the target named by the plan: `make_target(plan)`.

    The older form `make_target(kind, options, bindir=..., requirements=...)` builds the same target from those
    pieces of a plan's `[standby]` section; it stays until every caller passes the plan.
    """
    if isinstance(plan, Plan):
        return target_class(plan.target.kind)(plan.target.options, plan.standby)
    unknown = set(standby) - {"bindir", "requirements"}
    if unknown:
        raise TypeError(f"make_target() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    spec = StandbySpec(bindir=standby.get("bindir"), requirements=standby.get("requirements") or Requirements())
    return target_class(plan)(options if options is not None else {}, spec)


# One-line shims for the bring-up until it calls the methods itself.
def workfs_of(target: Target) -> WorkFS:
    """The file system of the target's drill folder (`target.workfs()`)."""
    return target.workfs()


def source_runner_of(target: Target) -> CommandRunner | None:
    """Where restore-point sources run their commands (`target.source_runner()`)."""
    return target.source_runner()


def publish_workspace(target: Target) -> None:
    """Hand the restored drill folder to a target that keeps its own copy (`target.publish_workspace()`)."""
    target.publish_workspace()
