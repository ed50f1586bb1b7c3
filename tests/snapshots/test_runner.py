"""LocalRunner and check(): exit codes, timeouts and the messages a failed command produces."""

from __future__ import annotations

import pytest

from spdrill.errors import TargetError
from spdrill.snapshots.runner import LocalRunner, check


def test_runs_without_a_shell_and_returns_output() -> None:
    done = LocalRunner().run(["printf", "%s|", "a b", "$HOME"], timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (0, "a b|$HOME|", "")


def test_missing_program_is_rc_127() -> None:
    done = LocalRunner().run(["spdrill-no-such-program"], timeout=10)
    assert done.returncode == 127 and "not found" in done.stderr


def test_timeout_is_rc_124() -> None:
    done = LocalRunner().run(["sleep", "5"], timeout=0.2)
    assert done.returncode == 124 and "timed out" in done.stderr


def test_check_names_what_failed_and_the_complaint() -> None:
    with pytest.raises(TargetError, match=r"could not list /nonexistent: `ls /nonexistent` exited 2: .*No such"):
        check(LocalRunner(), ["ls", "/nonexistent"], timeout=10, what="list /nonexistent")


def test_check_hints_at_installation_for_a_missing_program() -> None:
    with pytest.raises(TargetError, match=r"exited 127 \(is it installed\?\)"):
        check(LocalRunner(), ["spdrill-no-such-program"], timeout=10, what="run it")
