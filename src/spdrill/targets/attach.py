"""The `attach` target: an already running standby named by FULLNODE_API_INFO / MINER_API_INFO; checks only."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spdrill.errors import PlanError, TargetError, UsageError
from spdrill.lotus import ApiInfo
from spdrill.plan import StandbySpec
from spdrill.redact import register
from spdrill.targets.base import CommandResult, Target


class AttachTarget(Target):
    """Points at a standby someone else brought up: no restore, no processes, no teardown."""

    kind = "attach"
    brings_up = False
    OPTIONS = frozenset({"fullnode_api_info_env", "miner_api_info_env"})

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> None:
        super().validate(options)
        for key, value in options.items():
            if not isinstance(value, str) or not value:
                raise PlanError(f"expected the name of an environment variable, found {value!r}",
                                field=f"target.attach.{key}")

    def __init__(self, options: Mapping[str, Any], standby: StandbySpec | None = None) -> None:
        super().__init__(options, standby)
        self.fullnode_var = str(options.get("fullnode_api_info_env", "FULLNODE_API_INFO"))
        self.miner_var = str(options.get("miner_api_info_env", "MINER_API_INFO"))

    def api_info(self, role: str) -> ApiInfo:
        """The API info of `daemon` or `miner` from the environment (UsageError naming the variable)."""
        var = self.fullnode_var if role == "daemon" else self.miner_var
        if not os.environ.get(var):
            raise UsageError(f"the attach target needs ${var} (TOKEN:/ip4/HOST/tcp/PORT/http) for the standby "
                             f"{'daemon' if role == 'daemon' else 'lotus-miner'}; get it with "
                             f"`{'lotus' if role == 'daemon' else 'lotus-miner'} auth api-info --perm admin`")
        info = ApiInfo.from_env(var)
        if info.token:
            register(info.token)
        return info

    def open(self, drill_id: str) -> Path:
        return Path(os.devnull)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float) -> CommandResult:
        raise TargetError("the attach target runs no commands")

    def spawn(self, role: str, argv: Sequence[str], *, env: Mapping[str, str], port: int) -> None:
        raise TargetError("the attach target starts no processes")

    def exit_code(self, role: str) -> int | None:
        return None

    def free_port(self) -> int:
        raise TargetError("the attach target has no ports of its own")

    def endpoint(self, role: str, port: int) -> tuple[str, int]:
        raise TargetError("the attach target's endpoints come from the environment")

    def harness_bind_host(self) -> str:
        raise TargetError("the attach target starts no miner, so there is nothing to fence")

    def expose_harness(self, port: int) -> tuple[str, int]:
        raise TargetError("the attach target starts no miner, so there is nothing to fence")

    def peer(self, role: str, port: int) -> tuple[str, int]:
        raise TargetError("the attach target's endpoints come from the environment")

    def logs(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        return None
