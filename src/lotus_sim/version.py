"""The version the stand-in reports: Lotus's by default, an older one (without `Agent`) on request.

`Agent` joined `APIVersion` in Lotus v1.32.1 (api/api_common.go:77-78, commit 926d924d3 "feat: add Agent
to `Filecoin.Version`"), so a node older than that answers `Version` with three fields only. The knob
`LOTUS_SIM_LOTUS_VERSION` (e.g. `1.31.1`) makes the daemon and the miner play such a node.
"""

from __future__ import annotations

import re
from typing import Any

from lotus_sim.runtime import KnobError, Knobs, load_knobs

__all__ = ["AGENT_SINCE", "DEFAULT_VERSION", "has_agent", "node_version", "parse_version", "version_json"]

DEFAULT_VERSION = "1.36.2-dev"  # the Lotus commit the stand-in is modelled on (b835fab)
AGENT_SINCE = (1, 32, 1)
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?$")


def parse_version(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) of `1.31.1` or `1.32.1-rc2`; KnobError for anything else."""
    match = _SEMVER.match(text.strip())
    if not match:
        raise KnobError(f"LOTUS_SIM_LOTUS_VERSION = {text!r} is not a Lotus version such as 1.31.1; fix or remove it")
    return int(match[1]), int(match[2]), int(match[3])


def _knobs(knobs: Knobs | None) -> Knobs:
    return load_knobs() if knobs is None else knobs


def node_version(knobs: Knobs | None = None) -> str:
    """`Version.Version`: the Lotus version played, marked `+lotus-sim`."""
    played = _knobs(knobs).lotus_version or DEFAULT_VERSION
    parse_version(played)
    return f"{played}+lotus-sim"


def has_agent(knobs: Knobs | None = None) -> bool:
    """True when the version played has `APIVersion.Agent` (v1.32.1 and later)."""
    return parse_version(_knobs(knobs).lotus_version or DEFAULT_VERSION) >= AGENT_SINCE


def version_json(api_version: int, block_delay: int, knobs: Knobs | None = None) -> dict[str, Any]:
    """Filecoin.Version of a daemon or miner (knobs from the environment unless given)."""
    knobs = _knobs(knobs)
    out: dict[str, Any] = {"Version": node_version(knobs), "APIVersion": api_version, "BlockDelay": block_delay}
    if has_agent(knobs):
        out["Agent"] = "lotus-sim"
    return out
