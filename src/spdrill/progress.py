"""Live phase progress while a drill runs: rich on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from spdrill.duration import format_duration
from spdrill.journal import Outcome, Phase

_MARK = {Outcome.OK: ("✓", "green"), Outcome.FAILED: ("✗", "red"), Outcome.BLOCKED: ("·", "yellow"),
         Outcome.ABORTED: ("!", "red")}


def phase_line(phase: Phase) -> str:
    """One plain line for a finished phase."""
    mark = _MARK[phase.outcome][0]
    return f"[{phase.end:7.1f}s] {mark} {phase.name:<17} {format_duration(phase.duration):>7}  {phase.detail}"


def phase_printer(config: Any = None, *, stream: Any = None) -> Callable[[Phase], None]:
    """A listener printing each phase as it ends; serialised, since branches finish on different threads."""
    out = stream or sys.stderr  # `spdrill run` runs pytest with -s, so this is the terminal
    console = Console(file=out, highlight=False, soft_wrap=True)
    lock = threading.Lock()

    def show(phase: Phase) -> None:
        with lock:
            if console.is_terminal:
                mark, colour = _MARK[phase.outcome]
                console.print(f"[dim]{phase.end:7.1f}s[/dim] [{colour}]{mark}[/{colour}] [bold]{phase.name:<17}"
                              f"[/bold] {format_duration(phase.duration):>7}  {escape(phase.detail)}", markup=True)
            else:
                print(phase_line(phase), file=out, flush=True)

    return show
