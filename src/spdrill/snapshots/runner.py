"""Run commands for snapshot sources: locally now, over SSH later, behind one small protocol."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from spdrill.errors import TargetError

__all__ = ["CommandResult", "CommandRunner", "LocalRunner", "check", "checked"]


@dataclass(frozen=True)
class CommandResult:
    """A finished command: its argv, exit status and decoded output (on a target or a restore-point host)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    """Something that runs an argv on the host that holds the restore points."""

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        """Run argv to completion; a missing program gives returncode 127, a timeout 124."""
        ...


class LocalRunner:
    """Runs commands on this host with subprocess, never through a shell."""

    def run(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        """Run argv to completion; a missing program gives returncode 127, a timeout 124."""
        args = tuple(argv)
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            return CommandResult(args, 127, "", f"{args[0]}: command not found")
        except subprocess.TimeoutExpired:
            return CommandResult(args, 124, "", f"{args[0]}: timed out after {timeout:g} s")
        return CommandResult(args, proc.returncode, proc.stdout, proc.stderr)


def check(runner: CommandRunner, argv: Sequence[str], *, timeout: float, what: str) -> CommandResult:
    """Run argv and raise TargetError naming `what` and the command's own complaint if it fails."""
    return checked(runner.run(argv, timeout=timeout), what=what)


def checked(done: CommandResult, *, what: str) -> CommandResult:
    """`done` if it succeeded; else TargetError naming `what` and the command's own complaint (never re-run:
    a second run may see another state of the host than the first did)."""
    if done.returncode != 0:
        complaint = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        hint = " (is it installed?)" if done.returncode == 127 else ""
        raise TargetError(f"could not {what}: `{' '.join(done.argv)}` exited {done.returncode}{hint}: {complaint}")
    return done
