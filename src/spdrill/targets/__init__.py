"""Targets, one small module or package each, loaded lazily by name (like testinfra's backends).

`make_target(plan)` builds the plan's target; every target is a `Target` subclass built as
`Target(options, standby)`, so nothing outside this package needs to know which kind it is.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from spdrill.errors import PlanError
from spdrill.plan import Plan
from spdrill.targets.base import CommandResult, Host, HostResult, ReapScope, Target

# The kinds a plan may name, in the order `spdrill cleanup` asks them (this host first, then engines, then hosts).
_REGISTRY = {
    "local": "spdrill.targets.local:LocalTarget",
    "attach": "spdrill.targets.attach:AttachTarget",
    "docker": "spdrill.targets.docker.target:DockerTarget",
    "ssh": "spdrill.targets.ssh.target:SshTarget",
}

__all__ = ["CommandResult", "Host", "HostResult", "ReapScope", "Target", "make_target", "target_class",
           "target_classes", "validate_target_options"]


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


def make_target(plan: Plan) -> Target:
    """Build the target named by the plan, from its `[target]` options and `[standby]` section."""
    return target_class(plan.target.kind)(plan.target.options, plan.standby)
