"""Drill settings, resolved once from the command line, the environment, the pytest ini option and the plan.

`spdrill run` and plain `pytest` (``pytest drills/ --plan P``, ``pytest --pyargs spdrill.drills``) both call
`resolve`; `spdrill run` hands the result to pytest as an object, never as command-line strings. Precedence:
the first column that gives a value wins, left to right (the README's "Settings" table is this one)::

    setting      command line   environment        pytest ini     plan file            default
    plan         --plan         $SPDRILL_PLAN      spdrill_plan   -                    the simulated demo
                                                                                     (attach: the running APIs)
    target       --target       -                  -              [target] kind        local
    reports      --reports      -                  -              [reports] dir        reports/ beside the plan
    signing key  --sign         -                  -              [reports] sign_key   none: no signed bundle
    metrics      --metrics      -                  -              [reports] metrics    none
    history      --history      -                  -              [reports] history    none
    webhook      --webhook      $SPDRILL_WEBHOOK   -              [reports] webhook    none
    candidate    --candidate    -                  -              -                    none
    failover     --failover     -                  -              -                    off

Under pytest the options are spelled --drill-target, --drill-reports, --drill-sign, --drill-metrics,
--drill-history, --drill-webhook, --drill-candidate and --drill-failover ACTOR (what `spdrill run --failover
--confirm-failover ACTOR` asks); --plan is --plan. A failover is asked for on one command line only, never by
the environment, an ini file or a plan. The demo's reports go to ./reports (or the reports option). Command-line
paths are taken from the current folder, a plan's from the plan's folder. An error names where the bad value
came from (the option, the variable, or the plan file and field); a bad signing key is exit 2 before the drill.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spdrill.errors import DrillError, UsageError
from spdrill.failover import FailoverMode
from spdrill.failover import request as failover_request
from spdrill.plan import Plan, TargetSpec
from spdrill.planload import apply_candidate, load_validated

__all__ = ["DEMO", "PYTEST_SPELLING", "RUN_SPELLING", "Options", "Settings", "resolve", "with_evidence"]

DEMO = "the built-in simulated demo"

# How each command line spells its options, so a message names the option the operator typed.
RUN_SPELLING: Mapping[str, str] = {
    "plan": "--plan", "target": "--target", "reports": "--reports", "sign_key": "--sign", "metrics": "--metrics",
    "history": "--history", "webhook": "--webhook", "candidate": "--candidate",
}
PYTEST_SPELLING: Mapping[str, str] = {
    "plan": "--plan", "target": "--drill-target", "reports": "--drill-reports", "sign_key": "--drill-sign",
    "metrics": "--drill-metrics", "history": "--drill-history", "webhook": "--drill-webhook",
    "candidate": "--drill-candidate",
}


@dataclass(frozen=True)
class Options:
    """What one command line asked for (None: it said nothing); paths are taken from the current folder."""

    plan: Path | None = None
    target: str | None = None
    reports: Path | None = None
    sign_key: Path | None = None
    metrics: Path | None = None
    history: Path | None = None
    webhook: str | None = None
    candidate: str | None = None
    failover: bool = False
    confirm_failover: str | None = None
    spelling: Mapping[str, str] = field(default_factory=lambda: RUN_SPELLING)


@dataclass(frozen=True)
class Settings:
    """Everything one drill runs with: the validated plan with every override applied, and the run's mode."""

    plan: Plan  # what the drill runs: the plan file (or demo), the overrides and, if any, the candidate
    origin: str  # where the plan came from: "--plan", "$SPDRILL_PLAN", "ini option spdrill_plan" or DEMO
    failover: FailoverMode | None = None
    candidate: str | None = None  # the candidate Lotus `plan` carries (pre-change validation)
    baseline: Plan | None = None  # with a candidate: the same plan with the plan's own Lotus, drilled first

    @property
    def simulated_demo(self) -> bool:
        """True when no plan was given and the drill runs the built-in simulated demo."""
        return self.origin == DEMO

    def baseline_settings(self) -> Settings:
        """The baseline drill of a pre-change validation: these settings with the plan's own Lotus."""
        if self.baseline is None:
            raise ValueError("no candidate: these settings are the baseline")
        return dataclasses.replace(self, plan=self.baseline, candidate=None, baseline=None)


def resolve(options: Options, *, env: Mapping[str, str], ini_plan: str = "",
            demo_dir: Callable[[], Path]) -> Settings:
    """The settings of one drill, in the precedence of this module's table; UsageError (exit 2) names the culprit.

    `demo_dir` is called only when no plan is given: a folder for the simulated restore point, which must
    outlive the drill (the caller removes it).
    """
    spelled = options.spelling
    if options.plan is not None:
        origin, plan = spelled["plan"], load_validated(options.plan)
    elif env.get("SPDRILL_PLAN"):
        origin, plan = "$SPDRILL_PLAN", load_validated(Path(env["SPDRILL_PLAN"]))
    elif ini_plan:
        origin, plan = "ini option spdrill_plan", load_validated(Path(ini_plan))
    elif options.target == "attach":  # the operator's running standby: its own APIs say what to drill
        from spdrill.attachplan import SOURCE, plan_from_apis

        origin = SOURCE
        plan = plan_from_apis(env, reports=(options.reports or Path("reports")).resolve())
    else:
        from spdrill.demo import make_demo_plan

        origin = DEMO
        plan = load_validated(make_demo_plan(demo_dir(), reports=(options.reports or Path("reports")).resolve()))
    if options.target:
        plan = dataclasses.replace(plan, target=TargetSpec(kind=options.target, options={}))
    if options.reports is not None:
        plan = dataclasses.replace(plan, evidence=dataclasses.replace(plan.evidence, dir=options.reports.resolve()))
    plan = with_evidence(plan, options, env=env)
    mode = failover_request(failover=options.failover, confirm=options.confirm_failover, actor=plan.actor,
                            candidate=options.candidate, target=plan.target.kind, nosync=plan.failover_nosync)
    if options.candidate is None:
        return Settings(plan=plan, origin=origin, failover=mode)
    return Settings(plan=apply_candidate(plan, options.candidate), origin=origin, candidate=options.candidate,
                    baseline=plan)


def with_evidence(plan: Plan, options: Options, *, env: Mapping[str, str]) -> Plan:
    """The plan with the evidence settings over its [reports] table; the signing key must load, now."""
    from spdrill.evidence.keys import load_private_key

    spelled, ev = options.spelling, plan.evidence
    webhook = _first((options.webhook, spelled["webhook"]), (env.get("SPDRILL_WEBHOOK"), "$SPDRILL_WEBHOOK"),
                     (ev.webhook, f"{plan.source}: reports.webhook"))
    if webhook is not None and not webhook[0].startswith(("http://", "https://")):
        raise UsageError(f"{webhook[1]}: expected an http:// or https:// URL")
    paths: dict[str, Any] = {}
    for name in ("sign_key", "metrics", "history"):
        given: Path | None = getattr(options, name)
        if given is not None:
            paths[name] = given.resolve()
    ev = dataclasses.replace(ev, webhook=webhook[0] if webhook else None, **paths)
    if ev.sign_key is not None:
        origin = spelled["sign_key"] if "sign_key" in paths else f"{plan.source}: reports.sign_key"
        try:
            load_private_key(ev.sign_key)  # a bad key is exit 2 now, not a lost bundle after the drill
        except DrillError as exc:
            raise type(exc)(f"{origin}: {exc}") from None
    return dataclasses.replace(plan, evidence=ev)


def _first(*candidates: tuple[str | None, str]) -> tuple[str, str] | None:
    """The first given value, with where it came from."""
    return next(((value, origin) for value, origin in candidates if value), None)

