"""The lotus-miner config.toml settings the stand-in obeys, with Lotus's LOTUS_<SECTION>_<KEY> overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lotus_sim.repo import CliError

__all__ = ["MinerConfig", "read_miner_config"]


@dataclass(frozen=True)
class MinerConfig:
    """Effective [Subsystems] and [Proving] settings."""

    enable_mining: bool = True
    enable_sealing: bool = True
    enable_sector_storage: bool = True
    disable_window_post: bool = False
    disable_winning_post: bool = False
    disable_builtin_window_post: bool = False
    disable_wdpost_prechecks: bool = False
    # [API] RemoteListenAddress (node/config/def.go:223 default): the host:port PoSt workers fetch vanilla
    # proofs from, as http://<it>/remote (node/builder.go:290-295).
    remote_listen_address: str = "127.0.0.1:2345"

    def subsystems(self) -> list[str]:
        """RuntimeSubsystems as Lotus reports them (from the Enable* switches)."""
        names = [("Mining", self.enable_mining), ("Sealing", self.enable_sealing),
                 ("SectorStorage", self.enable_sector_storage)]
        return [name for name, on in names if on]


_KEYS = {
    ("Subsystems", "EnableMining"): "enable_mining",
    ("Subsystems", "EnableSealing"): "enable_sealing",
    ("Subsystems", "EnableSectorStorage"): "enable_sector_storage",
    ("Subsystems", "DisableWindowPoSt"): "disable_window_post",
    ("Subsystems", "DisableWinningPoSt"): "disable_winning_post",
    ("Proving", "DisableBuiltinWindowPoSt"): "disable_builtin_window_post",
    ("Proving", "DisableWDPoStPreChecks"): "disable_wdpost_prechecks",
}


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise CliError(f"{where}: expected true or false, got {value!r}")


def read_miner_config(path: Path, env: Mapping[str, str] | None = None) -> MinerConfig:
    """Read config.toml (defaults for absent keys), then apply LOTUS_SUBSYSTEMS_* style env overrides."""
    env = os.environ if env is None else env
    try:
        data = tomllib.loads(path.read_text()) if path.is_file() else {}
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{path}: not valid TOML ({exc}); fix the miner config") from exc
    values: dict[str, Any] = {}
    api = data.get("API")
    remote = env.get("LOTUS_API_REMOTELISTENADDRESS") or None  # envconfig, node/config/load.go:98
    if remote is None and isinstance(api, dict) and isinstance(api.get("RemoteListenAddress"), str):
        remote = api["RemoteListenAddress"]
    if remote:
        values["remote_listen_address"] = remote
    for (section, key), attr in _KEYS.items():
        env_name = f"LOTUS_{section.upper()}_{key.upper()}"
        if env_name in env:
            values[attr] = _as_bool(env[env_name], f"environment {env_name}")
            continue
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            values[attr] = _as_bool(table[key], f"{path} [{section}] {key}")
    return MinerConfig(**values)
