"""A plan for the attach target read from the running standby itself, when no plan file is given.

`FULLNODE_API_INFO=… MINER_API_INFO=… spdrill run --target attach` drills the standby the operator started:
the actor is what its lotus-miner says it is (`ActorAddress`), the sector size what the chain says
(`ActorSectorSize`). Nothing is restored, so the checks about a restore point are SKIP (not applicable).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from spdrill.plan import Plan, parse_plan
from spdrill.targets.attach import AttachTarget

SOURCE = "<the running standby's APIs>"


def plan_from_apis(env: Mapping[str, str], *, reports: Path) -> Plan:
    """The plan of an attach drill with the actor and sector size the standby's lotus-miner reports.

    UsageError (2) names a missing API variable; an API that does not answer is LotusUnreachableError (3):
    nothing was started, the plan's API could not be reached.
    """
    target = AttachTarget({})
    info = target.api_info("miner")  # UsageError naming $MINER_API_INFO when it is not set
    target.api_info("daemon")  # and $FULLNODE_API_INFO: both named now, before anything runs
    from spdrill.lotus import MinerClient

    with MinerClient(info) as miner:
        actor = miner.actor_address()
        sector_size = miner.actor_sector_size(actor)
    quoted = json.dumps  # a JSON string is a TOML basic string: the API's answers and the path stay data
    text = (f'[drill]\nname = {quoted(f"attach: {actor} (read from its lotus-miner)")}\nactor = {quoted(actor)}\n\n'
            '[target]\nkind = "attach"\n\n'
            f'[standby.requirements]\nsector_size = {int(sector_size)}\n\n'
            f'[reports]\ndir = {quoted(str(reports))}\n')
    return parse_plan(text, source=SOURCE, base_dir=Path.cwd())
