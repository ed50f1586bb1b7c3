"""`Version.Agent` exists only from Lotus v1.32.1 (api/api_common.go:77-78, commit 926d924d3).

`LOTUS_SIM_LOTUS_VERSION` makes the daemon and the miner play an older Lotus: no `Agent`, the older version
string. The worker's `Version` is a bare API version number in Lotus (api/api_worker.go), so it has no Agent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lotus_sim.runtime import KnobError, load_knobs
from lotus_sim.version import has_agent, version_json
from tests.sim.simproc import make_stand


def test_default_version_has_agent() -> None:
    out = version_json(131840, 30, load_knobs({}))
    assert out == {"Version": "1.36.2-dev+lotus-sim", "APIVersion": 131840, "BlockDelay": 30, "Agent": "lotus-sim"}


@pytest.mark.parametrize(("played", "agent"), [("1.31.1", False), ("1.32.0", False), ("1.32.1-rc1", True),
                                               ("1.32.1", True), ("1.33.0", True)])
def test_agent_appears_at_v1_32_1(played: str, agent: bool) -> None:
    knobs = load_knobs({"LOTUS_SIM_LOTUS_VERSION": played})
    assert has_agent(knobs) is agent
    out = version_json(66816, 30, knobs)
    assert ("Agent" in out) is agent and out["Version"] == f"{played}+lotus-sim"


def test_bad_version_is_a_knob_error() -> None:
    with pytest.raises(KnobError, match="LOTUS_SIM_LOTUS_VERSION"):
        load_knobs({"LOTUS_SIM_LOTUS_VERSION": "new"})


def test_daemon_and_miner_omit_agent_when_playing_1_31_1(tmp_path: Path) -> None:
    stand = make_stand(tmp_path, sectors=4, deadlines=1)
    stand.env["LOTUS_SIM_LOTUS_VERSION"] = "1.31.1"
    assert stand.import_snapshot().returncode == 0
    stand.start_daemon()
    try:
        stand.start_miner("--nosync")
        for version in (stand.daemon("v1").call("Version"), stand.daemon("v0").call("Version"),
                        stand.miner().call("Version")):
            assert "Agent" not in version
            assert version["Version"] == "1.31.1+lotus-sim"
        stand.start_worker(env={"LOTUS_SIM_WORKER_FD_MIN": "0"})
        assert isinstance(stand.worker().call("Version"), int)
    finally:
        stand.stop_all()
