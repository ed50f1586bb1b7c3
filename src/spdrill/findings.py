"""What each bring-up stage found, as frozen dataclasses: drills read attributes, evidence serialises them here.

A stage returns its finding (its `detail` is the phase's one-line summary). A stage that fails may still have
found something (CheckProvable's list of bad sectors, the last sync height seen): it raises `StageProblem`
with the finding, or leaves a partial one on its `PhaseNote`; the phase records it either way.

`Finding.facts()` is the one place a finding becomes the phase's facts in the JSON record and the HTML report:
scalars as they are, a field that is None left out, tables as compact JSON text where the record has always
held them so.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spdrill.errors import DrillError

if TYPE_CHECKING:
    from spdrill.reconcile import ReconciliationReport
    from spdrill.snapshots.retention import RetentionCheck



@dataclass(frozen=True, kw_only=True)
class Finding:
    """Base of every stage's finding: a one-line summary and typed fields."""

    detail: str = ""

    def facts(self) -> dict[str, Any]:
        """The finding as the record's phase facts (every field but `detail`; None left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "detail" or value is None:
                continue
            out[f.name] = _fact(value)
        return out


def _fact(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_fact(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class NotApplicable(Finding):
    """The stage does not apply to this target (the attach target restores and starts nothing)."""


@dataclass(frozen=True, kw_only=True)
class RestoreFinding(Finding):
    """restore: the workspace, the snapshot set, the restore points' resilience, the backup and snapshot files."""

    snapshot_set_consistent: bool | None = None
    snapshot_set_detail: str | None = None
    retention: tuple[RetentionCheck, ...] | None = None
    storage_paths_remapped: int | None = None
    chain_snapshot: str | None = None
    chain_snapshot_height: int | None = None
    chain_snapshot_age_seconds: float | None = None
    chain_snapshot_error: str | None = None
    miner_backup: str | None = None
    miner_backup_ok: bool | None = None
    miner_backup_detail: str | None = None
    miner_backup_keys: int | None = None
    miner_backup_age_seconds: float | None = None
    miner_backup_copied_from: str | None = None
    miner_backup_unchecked: str | None = None

    def facts(self) -> dict[str, Any]:
        out = super().facts()
        if self.retention is not None:  # the record has always held these rows as JSON text
            out["retention"] = json.dumps([dataclasses.asdict(r) for r in self.retention])
        return out


@dataclass(frozen=True, kw_only=True)
class ChainImportFinding(Finding):
    """import-chain: the chain snapshot the daemon imported."""

    snapshot: str | None = None

    def facts(self) -> dict[str, Any]:
        return {}  # named in the detail; the restore stage records the file's facts


@dataclass(frozen=True, kw_only=True)
class RoleStarted(Finding):
    """start-daemon / start-worker: the port the role serves on (None when attached to a running one)."""

    port: int | None = None
    version: str | None = None

    def facts(self) -> dict[str, Any]:
        return {} if self.port is None else {"port": self.port}


@dataclass(frozen=True, kw_only=True)
class SyncFinding(Finding):
    """sync: the head the standby daemon last reported, as `lotus sync wait` judges it."""

    height: int | None = None
    epochs_behind: int | None = None
    block_delay: int | None = None


@dataclass(frozen=True, kw_only=True)
class FenceFinding(Finding):
    """fence: what the wallet and config fences checked, and where the chain firewall listens."""

    addresses_checked: int | None = None
    wallet_keys: int | None = None
    config: str | None = None
    chain_firewall: str | None = None
    worker: str | None = None  # failover: the worker key init restore signs with


@dataclass(frozen=True, kw_only=True)
class MinerFinding(Finding):
    """start-miner: the restored lotus-miner's API port and the actor it runs as."""

    port: int | None = None
    actor: str | None = None


@dataclass(frozen=True, kw_only=True)
class InitRestoreFinding(Finding):
    """init-restore (failover only): the repo lotus-miner init restore made and the ChangePeerID message."""

    change_peer_id_cid: str | None = None
    repo: str | None = None
    nosync: bool | None = None


@dataclass(frozen=True, kw_only=True)
class StorageFinding(Finding):
    """storage: how many storage paths the restored miner has attached."""

    paths: int | None = None


@dataclass(frozen=True, kw_only=True)
class WorkerFinding(Finding):
    """worker-connected: the workers the miner sees, and the WindowPoSt workers' GPUs."""

    workers: int | None = None
    windowpost_workers: int | None = None
    gpus: tuple[str, ...] | None = None



@dataclass(frozen=True, kw_only=True)
class ProvableFinding(Finding):
    """check-provable: CheckProvable per partition; `bad` holds every reason it gave, by sector number."""

    deadlines: int | None = None
    partitions: int | None = None
    sectors_checked: int | None = None
    bad_sectors: int | None = None
    not_in_restored_state: int | None = None
    not_in_restored_state_sample: str | None = None
    bad: Mapping[int, str] | None = None

    def facts(self) -> dict[str, Any]:
        out = super().facts()
        out.pop("bad", None)
        if self.bad is not None:
            out["bad_json"] = json.dumps({str(k): v for k, v in sorted(self.bad.items())})
        return out


@dataclass(frozen=True, kw_only=True)
class PoStFinding(Finding):
    """post-dry-run: the deadline proven, how long it took against the budget, what was skipped."""

    budget_seconds: float | None = None
    deadline: int | None = None
    partitions: int | None = None
    sectors: int | None = None
    seconds: float | None = None
    skipped: int | None = None
    proofs: int | None = None


@dataclass(frozen=True, kw_only=True)
class ReconcileFinding(Finding):
    """reconcile: the on-chain sectors per deadline against the restored miner and CheckProvable."""

    report: ReconciliationReport | None = None

    def facts(self) -> dict[str, Any]:
        return {} if self.report is None else dict(self.report.stage_data())


class StageProblem(DrillError):
    """A stage ran and found a problem (exit 1): the message says what, `finding` holds what it saw."""

    def __init__(self, message: str, finding: Finding | None = None) -> None:
        super().__init__(message)
        self.finding = finding
