"""WindowPoSt: every live sector is provable on the standby and a dry-run fits the challenge window."""

import pytest

from spdrill.assertions import stage_ok
from spdrill.drill import Drill


@pytest.mark.readiness
def test_sectors_provable(drill: Drill) -> None:
    """CheckProvable is clean for every deadline with live sectors."""
    stage_ok(drill, "check-provable", advice="")


@pytest.mark.readiness
def test_windowpost_dry_run(drill: Drill) -> None:
    """A ComputeWindowPoSt dry-run of the next deadline succeeds within the challenge window minus the margin."""
    stage_ok(drill, "post-dry-run", advice="Nothing was sent to the chain (dry-run).")
