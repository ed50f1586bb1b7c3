"""FakeTarget: an in-memory target for fast tests of the orchestration (as httpx ships `MockTransport`).

It starts no process and opens no port: it records every `run` and `spawn`, answers `run` from results a
test scripts by argv prefix, reports the exits a test declares, hands out ports from a counter, and keeps
its drill folder in a temporary folder of this host. It is in no plan registry: a plan cannot name it.

    fake = FakeTarget(brings_up=True)
    fake.script(["lotus", "sync", "wait"], returncode=0, stdout="done")
    drill = Drill(plan, target=fake)
    ...
    fake.exit("worker", 1)              # the worker died
    assert fake.spawned("daemon").argv[:2] == ("lotus", "daemon")
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spdrill.errors import DrillError
from spdrill.plan import StandbySpec
from spdrill.targets.base import CommandResult, Target

if TYPE_CHECKING:
    from spdrill.lotus import ApiInfo

__all__ = ["Call", "FakeTarget"]

FIRST_PORT = 40000


@dataclass(frozen=True)
class Call:
    """One `run` or `spawn` the fake received: what, for which role (spawn only), argv, env and port."""

    method: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    role: str = ""
    port: int = 0
    timeout: float = 0.0


@dataclass(frozen=True)
class _Scripted:
    prefix: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    error: DrillError | None


class FakeTarget(Target):
    """A Target that only records and answers; every call is thread-safe, as the bring-up runs roles in threads."""

    kind = "fake"

    def __init__(self, options: Mapping[str, Any] | None = None, standby: StandbySpec | None = None, *,
                 brings_up: bool = True) -> None:
        super().__init__(options or {}, standby)
        self.brings_up = brings_up
        self.calls: list[Call] = []
        self.root: Path | None = None
        self.drill_id = ""
        self.closed = False
        self.stopped = False
        self._scripts: list[_Scripted] = []
        self._exits: dict[str, int] = {}
        self._logs: dict[str, str] = {}
        self._apis: dict[str, ApiInfo] = {}
        self._next_port = FIRST_PORT
        self._lock = threading.Lock()

    # -- what a test sets up ----------------------------------------------------------------------------------
    def script(self, prefix: Sequence[str], *, returncode: int = 0, stdout: str = "", stderr: str = "",
               error: DrillError | None = None) -> None:
        """Answer every later `run` whose argv starts with `prefix`; the longest prefix wins, then the latest.

        With `error`, such a `run` raises it instead (a TargetError for a command that timed out). A `run`
        nothing matches succeeds with no output.
        """
        with self._lock:
            self._scripts.append(_Scripted(tuple(prefix), returncode, stdout, stderr, error))

    def exit(self, role: str, code: int | None) -> None:
        """Mark `role` as exited with `code` (None: running again); `exit_code(role)` reports it from now on.

        It may come before the role is spawned: a role that dies as soon as it starts.
        """
        with self._lock:
            if code is None:
                self._exits.pop(role, None)
            else:
                self._exits[role] = code

    def point_at(self, role: str, info: ApiInfo) -> None:
        """Make `api_info(role)` return `info`, as the attach target does for a standby someone else runs."""
        with self._lock:
            self._apis[role] = info

    def log(self, role: str, text: str) -> None:
        """Append `text` to the output `logs()` reports for `role`."""
        with self._lock:
            self._logs[role] = self._logs.get(role, "") + text

    # -- what a test reads back -------------------------------------------------------------------------------
    def runs(self) -> list[Call]:
        """Every `run` so far, in order."""
        with self._lock:
            return [c for c in self.calls if c.method == "run"]

    def spawned(self, role: str) -> Call:
        """The last `spawn` of `role` (KeyError when it was never started)."""
        with self._lock:
            for call in reversed(self.calls):
                if call.method == "spawn" and call.role == role:
                    return call
        raise KeyError(f"{role} was never spawned; spawned: {', '.join(self.roles()) or 'none'}")

    def roles(self) -> list[str]:
        """The roles spawned so far, in the order they first started."""
        with self._lock:
            return list(dict.fromkeys(c.role for c in self.calls if c.method == "spawn"))

    # -- the Target -------------------------------------------------------------------------------------------
    def open(self, drill_id: str) -> Path:
        self.drill_id = drill_id
        self.root = Path(tempfile.mkdtemp(prefix=f"spdrill-fake-{drill_id}-"))
        (self.root / "logs").mkdir()
        self.closed = False
        return self.root

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandResult:
        args = tuple(argv)
        with self._lock:
            self.calls.append(Call("run", args, dict(env), timeout=timeout))
            matches = [s for s in self._scripts if args[:len(s.prefix)] == s.prefix]
        if not matches:
            return CommandResult(args, 0, "", "")
        best = max(reversed(matches), key=lambda s: len(s.prefix))  # of equal prefixes, the latest scripted
        if best.error is not None:
            raise best.error
        return CommandResult(args, best.returncode, best.stdout, best.stderr)

    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        with self._lock:
            self.calls.append(Call("spawn", tuple(argv), dict(env), role=role, port=port))

    def exit_code(self, role: str) -> int | None:
        with self._lock:
            return self._exits.get(role)

    def free_port(self) -> int:
        with self._lock:
            port = self._next_port
            self._next_port += 1
        return port

    def logs(self) -> dict[str, str]:
        with self._lock:
            return dict(self._logs)

    def api_info(self, role: str) -> ApiInfo:
        with self._lock:
            info = self._apis.get(role)
        return info if info is not None else super().api_info(role)

    def stop_processes(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.stop_processes()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
        self.closed = True
