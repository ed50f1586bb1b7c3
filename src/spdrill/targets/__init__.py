"""Targets, one small module each, loaded lazily by name (like testinfra's backends)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from spdrill.errors import PlanError
from spdrill.targets.base import CommandResult, Target

_REGISTRY = {
    "local": "spdrill.targets.local:LocalTarget",
    "attach": "spdrill.targets.attach:AttachTarget",
    "docker": "spdrill.targets.docker:DockerTarget",
    "ssh": "spdrill.targets.ssh:SshTarget",
}

__all__ = ["CommandResult", "Target", "make_target", "validate_target_options"]


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
