"""Run commands for snapshot sources: locally now, over SSH later, behind one small protocol."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from spdrill.errors import TargetError

__all__ = ["CommandRunner", "CompletedCommand", "LocalRunner", "check"]


@dataclass(frozen=True)
class CompletedCommand:
    """What a finished command left: its argv, exit status and decoded output."""

    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    """Something that runs an argv on the host that holds the restore points."""

    def run(self, argv: Sequence[str], *, timeout: float) -> CompletedCommand:
        """Run argv to completion; a missing program gives rc 127, a timeout rc 124."""
        ...


class LocalRunner:
    """Runs commands on this host with subprocess, never through a shell."""

    def run(self, argv: Sequence[str], *, timeout: float) -> CompletedCommand:
        """Run argv to completion; a missing program gives rc 127, a timeout rc 124."""
        args = tuple(argv)
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except FileNotFoundError:
            return CompletedCommand(args, 127, "", f"{args[0]}: command not found")
        except subprocess.TimeoutExpired:
            return CompletedCommand(args, 124, "", f"{args[0]}: timed out after {timeout:g} s")
        return CompletedCommand(args, proc.returncode, proc.stdout, proc.stderr)


def check(runner: CommandRunner, argv: Sequence[str], *, timeout: float, what: str) -> CompletedCommand:
    """Run argv and raise TargetError naming `what` and the command's own complaint if it fails."""
    done = runner.run(argv, timeout=timeout)
    if done.rc != 0:
        complaint = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        hint = " (is it installed?)" if done.rc == 127 else ""
        raise TargetError(f"could not {what}: `{' '.join(done.argv)}` exited {done.rc}{hint}: {complaint}")
    return done
