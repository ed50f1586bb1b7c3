"""The Target protocol: the few things a drill asks of the place where its standby runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class CommandResult:
    """A finished one-shot command on the target."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@runtime_checkable
class Target(Protocol):
    """Where a standby runs. `local`, `docker` and `ssh` bring one up; `attach` only points at one."""

    kind: str
    brings_up: bool

    def open(self, drill_id: str) -> Path:
        """Check the target is reachable and return the drill's private folder there (CannotRunError if not)."""
        ...

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandResult:
        """Run a one-shot command to completion (TargetError on timeout)."""
        ...

    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        """Start a long-running role process serving its API on `port`; its output goes to the role's log."""
        ...

    def path(self, local: Path) -> str:
        """How a standby command names a path of the drill folder (a container sees its mount point)."""
        ...

    def listen_host(self, role: str) -> str:
        """The address a role binds its API to (127.0.0.1 on a host, 0.0.0.0 inside a container)."""
        ...

    def peer(self, role: str, port: int) -> tuple[str, int]:
        """Host and port at which the other standby roles reach `role`'s API."""
        ...

    def exit_code(self, role: str) -> int | None:
        """The role process's exit status, or None while it runs."""
        ...

    def free_port(self) -> int:
        """A TCP port free on the target now."""
        ...

    def endpoint(self, role: str, port: int) -> tuple[str, int]:
        """Host and port at which the harness reaches `role`'s API."""
        ...

    def harness_bind_host(self) -> str:
        """The address on this host where a listener the roles must reach (the chain firewall) binds."""
        ...

    def expose_harness(self, port: int) -> tuple[str, int]:
        """Make this host's listener on `port` reachable by the roles; the host and port they dial."""
        ...

    def host(self) -> Any:
        """A pytest-testinfra Host for checks on the target machine."""
        ...

    def logs(self) -> Mapping[str, str]:
        """Each role's output so far (not yet redacted)."""
        ...

    def close(self) -> None:
        """Stop every process and remove everything the drill created there; idempotent."""
        ...
