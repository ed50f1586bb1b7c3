"""The Target base class: what a drill asks of the place where its standby runs, and what a target may offer.

As pytest-testinfra's backends share `BaseBackend`, every target subclasses `Target`: the abstract methods are
what each one must do (open a drill folder, run and spawn, report exits and logs, close), the rest are
capabilities with the defaults of a standby on this host, which a target overrides where it differs. Generic
code calls the methods; it never asks `kind == ...` or `getattr(target, ...)`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from spdrill.errors import PlanError, TargetError
from spdrill.plan import StandbySpec
from spdrill.snapshots.runner import CommandResult, CommandRunner
from spdrill.workfs import LocalFS, WorkFS

if TYPE_CHECKING:
    from spdrill.lotus import ApiInfo
    from spdrill.plan import Plan

__all__ = ["CommandResult", "Host", "HostResult", "ReapScope", "Target"]

LOOPBACK = "127.0.0.1"


class HostResult(Protocol):
    """What a testinfra Host's `run` returns (testinfra/backend/base.py `CommandResult`): status and output."""

    @property
    def rc(self) -> int: ...

    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...


class Host(Protocol):
    """The part of a pytest-testinfra Host the host checks use: `run(command % quoted args)`."""

    def run(self, command: str, *args: str) -> HostResult: ...


@dataclass(frozen=True)
class ReapScope:
    """What `spdrill cleanup` was asked to reap: one drill (or every killed one), where, and the plan if given."""

    drill_id: str | None = None
    workdir: Path = Path("/var/tmp/spdrill")
    extra_roots: tuple[Path, ...] = ()
    plan: Plan | None = field(default=None, compare=False)


class Target(abc.ABC):
    """Where a standby runs. `local`, `docker` and `ssh` bring one up; `attach` only points at one.

    Every target is built the same way, `Target(options, standby)`: the plan's `[target.<kind>]` table and its
    `[standby]` section, from which each target reads what it needs (bindir, requirements, ...).
    """

    kind: ClassVar[str]
    # Whether the drill restores and starts the standby here (false: it only points at a running one).
    brings_up: bool = True
    OPTIONS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: Mapping[str, Any], standby: StandbySpec | None = None) -> None:
        self.validate(options)
        self.options = options
        self.standby = standby if standby is not None else StandbySpec()

    # -- the plan ---------------------------------------------------------------------------------------------
    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> None:
        """Check the target's plan options (PlanError naming `target.<kind>.<key>`)."""
        for key in options:
            if key not in cls.OPTIONS:
                expected = ", ".join(sorted(cls.OPTIONS)) or "none"
                raise PlanError(f"unknown key; expected one of: {expected}", field=f"target.{cls.kind}.{key}")

    @classmethod
    def options_with_image(cls, options: Mapping[str, Any], image: str) -> dict[str, Any]:
        """Options that run every role from `image` (`--candidate image=REF`); PlanError if the target runs none."""
        raise PlanError(f"--candidate image=… needs the docker target; this plan's target is {cls.kind}",
                        field="target.kind")

    # -- what every target must do ----------------------------------------------------------------------------
    @abc.abstractmethod
    def open(self, drill_id: str) -> Path:
        """Check the target is reachable and return the drill's private folder there (CannotRunError if not)."""

    @abc.abstractmethod
    def run(self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandResult:
        """Run a one-shot command to completion (TargetError on timeout)."""

    @abc.abstractmethod
    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        """Start a long-running role process serving its API on `port`; its output goes to the role's log."""

    @abc.abstractmethod
    def exit_code(self, role: str) -> int | None:
        """The role process's exit status, or None while it runs."""

    @abc.abstractmethod
    def free_port(self) -> int:
        """A TCP port free on the target now (never handed out twice to one drill)."""

    @abc.abstractmethod
    def logs(self) -> Mapping[str, str]:
        """Each role's output so far (not yet redacted)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop every process and remove everything the drill created there; idempotent."""

    # -- addresses: a standby on this host unless the target says otherwise ------------------------------------
    def path(self, local: Path) -> str:
        """How a standby command names a path of the drill folder (a container sees its mount point)."""
        return str(local)

    def listen_host(self, role: str) -> str:
        """The address a role binds its API to (127.0.0.1 on a host, its own address inside a container)."""
        return LOOPBACK

    def peer(self, role: str, port: int) -> tuple[str, int]:
        """Host and port at which the other standby roles reach `role`'s API."""
        return LOOPBACK, port

    def endpoint(self, role: str, port: int) -> tuple[str, int]:
        """Host and port at which the harness reaches `role`'s API."""
        return LOOPBACK, port

    def harness_bind_host(self) -> str:
        """The address on this host where a listener the roles must reach (the chain firewall) binds."""
        return LOOPBACK

    def expose_harness(self, port: int) -> tuple[str, int]:
        """Make this host's listener on `port` reachable by the roles; the host and port they dial."""
        return LOOPBACK, port

    def api_info(self, role: str) -> ApiInfo:
        """The API info of an already running `daemon` or `miner` (only a target that points at one has it)."""
        raise TargetError(f"the {self.kind} target does not point at a running API; it brings the standby up "
                          "itself, so its endpoints come from the roles it starts")

    # -- capabilities with their usual defaults ---------------------------------------------------------------
    def workfs(self) -> WorkFS:
        """The file system of the drill folder: this host's unless the target keeps it elsewhere."""
        return LocalFS()

    def source_runner(self) -> CommandRunner | None:
        """Where restore-point sources run their commands: None for this host, else the target's host."""
        return None

    def publish_workspace(self) -> None:
        """Hand the restored drill folder to a target that keeps its own copy (a Docker volume); else nothing."""
        return None

    def stop_processes(self) -> None:
        """Stop every role (the drill keeps their logs and folder until `close`); nothing when none runs."""
        return None

    def host(self) -> Host:
        """A pytest-testinfra Host for checks on the machine where the standby runs (this host by default)."""
        import testinfra

        host: Host = testinfra.get_host("local://")
        return host

    # -- leftovers of killed drills ---------------------------------------------------------------------------
    @classmethod
    def reaps(cls, scope: ReapScope) -> bool:
        """Whether this kind keeps leftovers of its own in `scope`, beyond this host's (`spdrill.reaper.reap`)."""
        return False

    @classmethod
    def reap(cls, scope: ReapScope) -> list[str]:
        """Remove what killed drills of this kind left in `scope`; one line per thing removed or kept.

        Called by `spdrill.reaper.cleanup` when `reaps(scope)`; a DrillError there means the place could not be
        looked at, and the cleanup says so (`<kind>: skipped (why)`) and goes on.
        """
        return []
