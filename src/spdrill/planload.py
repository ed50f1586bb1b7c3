"""Find and load the plan a drill runs with, in a stated precedence, validating sources and target options."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from spdrill.errors import PlanError
from spdrill.plan import Plan, TargetSpec, load_plan
from spdrill.snapshots import load_source
from spdrill.targets import validate_target_options


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
    if kind == "image" and value:
        if plan.target.kind != "docker":
            raise PlanError(f"--candidate image=… needs the docker target; this plan's target is {plan.target.kind}",
                            field="target.kind")
        options = {k: v for k, v in plan.target.options.items() if k != "images"}
        options["image"] = value
        return dataclasses.replace(plan, target=TargetSpec(kind="docker", options=options))
    raise PlanError(f"--candidate: expected bin=DIR or image=REF, found {candidate!r}")


def resolve_plan(*, cli: str | None, ini: str, target: str | None, reports: str | None,
                 demo_dir: Callable[[], Path], evidence: Mapping[str, str | None] | None = None,
                 candidate: str | None = None) -> Plan:
    """--plan, then $SPDRILL_PLAN, then the ini option, then the built-in simulated demo."""
    chosen = cli or os.environ.get("SPDRILL_PLAN") or ini or None
    if chosen:
        plan = load_validated(Path(chosen))
    else:
        from spdrill.demo import make_demo_plan

        plan = load_validated(make_demo_plan(demo_dir()))
    if target:
        plan = dataclasses.replace(plan, target=TargetSpec(kind=target, options={}))
    if candidate:
        plan = apply_candidate(plan, candidate)
    if reports:
        folder = Path(reports).resolve()
        plan = dataclasses.replace(plan, evidence=dataclasses.replace(plan.evidence, dir=folder))
    overrides = {k: v for k, v in (evidence or {}).items() if v}
    if overrides:
        values: dict[str, Any] = {k: (v if k == "webhook" else Path(v).resolve()) for k, v in overrides.items()}
        plan = dataclasses.replace(plan, evidence=dataclasses.replace(plan.evidence, **values))
    return plan
