"""Load a plan file and validate all of it (restore sources, target options); apply a candidate Lotus.

Which plan a drill runs with, and what overrides it, is decided once in spdrill.settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spdrill.errors import PlanError
from spdrill.plan import Plan, TargetSpec, load_plan
from spdrill.snapshots import load_source
from spdrill.targets import target_class, validate_target_options


def _validate_source(table: Mapping[str, Any], where: str) -> None:
    load_source(table, where=where)


def load_validated(path: Path) -> Plan:
    """Load a plan file and validate everything in it, restore sources and target options included."""
    plan = load_plan(path, validate_source=_validate_source)
    try:
        validate_target_options(plan.target.kind, plan.target.options)
    except PlanError as exc:
        raise PlanError(str(exc), source=str(path)) from None
    return plan


def apply_candidate(plan: Plan, candidate: str) -> Plan:
    """The plan with a candidate Lotus: `bin=DIR` (binaries for local/ssh) or `image=REF` (docker)."""
    kind, _, value = candidate.partition("=")
    if kind == "bin" and value:
        return dataclasses.replace(plan, standby=dataclasses.replace(plan.standby, bindir=value))
    if kind == "image" and value:  # a target that runs no images says so (PlanError naming target.kind)
        options = target_class(plan.target.kind).options_with_image(plan.target.options, value)
        return dataclasses.replace(plan, target=TargetSpec(kind=plan.target.kind, options=options))
    raise PlanError(f"--candidate: expected bin=DIR or image=REF, found {candidate!r}")

