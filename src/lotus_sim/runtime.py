"""Runtime knobs and fault switches of the stand-in's processes, from `LOTUS_SIM_*` env vars and a TOML file.

Precedence: an env var wins over the file named by `LOTUS_SIM_CONFIG`, which wins over the default.
The file holds the same names in lower case without the prefix (`sync_rate = 500`), at top level or
under a `[sim]` table. Every knob is documented in lotus_sim/README.md.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["Knobs", "KnobError", "load_knobs", "record_dir"]

MAINNET_GENESIS = 1598306400


class KnobError(ValueError):
    """A knob with a value of the wrong kind; the message names where it came from."""


@dataclass(frozen=True)
class Knobs:
    """The resolved knobs of one process."""

    block_delay: int = 30  # seconds per epoch (whole seconds, as Lotus builds have)
    genesis: int = MAINNET_GENESIS  # unix time of epoch 0
    sync_rate: float = 2000.0  # epochs caught up per second while syncing
    never_sync: bool = False  # fault: ActiveSyncs stay in header sync, the head never moves
    exit_mid_sync: bool = False  # fault: the daemon exits (code 1) halfway through its catch-up
    peers: int = 8  # pubsub peers reported by NodeStatus when bootstrapping
    post_seconds_per_partition: float = 0.05  # fault "slow PoSt" = a large value
    check_seconds_per_sector: float = 0.0  # time CheckProvable spends per sector
    no_gpu: bool = False  # fault: the worker reports no GPUs
    gpus: str = "NVIDIA H100 80GB HBM3"  # comma-separated GPU names a worker reports
    record_dir: str = ""  # where mpool-push.jsonl goes; default $LOTUS_PATH/sim-records
    lotus_version: str = ""  # Lotus version played (default 1.36.2-dev); before 1.32.1 Version has no Agent
    worker_fd_min: int = 100_000  # lotus-worker run refuses a lower soft RLIMIT_NOFILE (MinerFDLimit); 0 = no check
    wdpost_scheduler: bool = True  # the miner's own WindowPoSt scheduler runs (Lotus: always, unless DisableWindowPoSt)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(name: str, raw: Any, kind: type, source: str) -> Any:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(raw)
        if kind is float:
            value = float(raw)
            if value < 0:
                raise ValueError(raw)
            return value
        if kind is int:
            if isinstance(raw, bool) or int(raw) < 0:
                raise ValueError(raw)
            return int(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise KnobError(
            f"{source}: {name} = {raw!r} is not a valid {kind.__name__}"
            f"{' (use true/false)' if kind is bool else ''}; fix or remove it"
        ) from exc


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise KnobError(f"LOTUS_SIM_CONFIG={path}: cannot read it ({exc.strerror}); fix the path") from exc
    except tomllib.TOMLDecodeError as exc:
        raise KnobError(f"LOTUS_SIM_CONFIG={path}: not valid TOML ({exc})") from exc
    table = data.get("sim", data)
    if not isinstance(table, dict):
        raise KnobError(f"LOTUS_SIM_CONFIG={path}: [sim] must be a table")
    return table


def load_knobs(env: Mapping[str, str] | None = None) -> Knobs:
    """Resolve every knob from `env` (default os.environ) and the LOTUS_SIM_CONFIG file."""
    env = os.environ if env is None else env
    file_values: dict[str, Any] = {}
    config_path = env.get("LOTUS_SIM_CONFIG")
    if config_path:
        file_values = _read_file(config_path)
        known = {f.name for f in fields(Knobs)}
        unknown = sorted(set(file_values) - known - {"sim"})
        if unknown:
            raise KnobError(
                f"LOTUS_SIM_CONFIG={config_path}: unknown knob(s) {unknown}; see lotus_sim/README.md"
            )
    values: dict[str, Any] = {}
    for spec in fields(Knobs):
        kind = type(spec.default)
        env_name = f"LOTUS_SIM_{spec.name.upper()}"
        if env_name in env:
            values[spec.name] = _convert(env_name, env[env_name], kind, "environment")
        elif spec.name in file_values:
            source = f"LOTUS_SIM_CONFIG={config_path}"
            values[spec.name] = _convert(spec.name, file_values[spec.name], kind, source)
    knobs = Knobs(**values)
    if knobs.block_delay <= 0:
        raise KnobError("LOTUS_SIM_BLOCK_DELAY must be greater than 0 seconds")
    if knobs.lotus_version:
        from lotus_sim.version import parse_version  # late: version imports this module

        parse_version(knobs.lotus_version)
    return knobs


def record_dir(knobs: Knobs, lotus_path: Path) -> Path:
    """Return the folder for test-readable records (mpool pushes)."""
    return Path(knobs.record_dir) if knobs.record_dir else lotus_path / "sim-records"
