"""Lotus's API permission model: the four levels and the `Perms` of every method the stand-in serves."""

from __future__ import annotations

__all__ = [
    "ALL_PERMISSIONS",
    "DAEMON_PERMS",
    "MINER_PERMS",
    "WORKER_PERMS",
    "allow_for",
    "missing_permission_text",
]

# api/permissioned.go: AllPermissions; `create-token --perm X` grants the prefix up to and including X.
ALL_PERMISSIONS: tuple[str, ...] = ("read", "write", "sign", "admin")

# The `Perms:` line of each method in api-methods-v1-stable.md (tests re-check every entry there).
DAEMON_PERMS: dict[str, str] = {
    "Version": "read",
    "Session": "read",
    "Shutdown": "admin",
    "AuthNew": "admin",
    "AuthVerify": "read",
    "ChainHead": "read",
    "ChainNotify": "read",
    "ChainGetTipSetByHeight": "read",
    "SyncState": "read",
    "NodeStatus": "read",
    "StateNetworkVersion": "read",
    "StateMinerInfo": "read",
    "StateMinerProvingDeadline": "read",
    "StateMinerDeadlines": "read",
    "StateMinerPartitions": "read",
    "StateMinerSectors": "read",
    "StateMinerActiveSectors": "read",
    "StateMinerFaults": "read",
    "StateMinerRecoveries": "read",
    "StateSectorGetInfo": "read",
    "StateMinerPower": "read",
    "StateAccountKey": "read",
    "StateReadState": "read",
    "WalletList": "write",
    "WalletHas": "write",
    "WalletDefaultAddress": "write",
    "MpoolPushMessage": "sign",
}

# api-methods-miner.md
MINER_PERMS: dict[str, str] = {
    "Version": "read",
    "Session": "read",
    "Shutdown": "admin",
    "AuthNew": "admin",
    "AuthVerify": "read",
    "ActorAddress": "read",
    "ActorSectorSize": "read",
    "SectorsList": "read",
    "StorageList": "admin",
    "StorageLocal": "admin",
    "StorageStat": "admin",
    "StorageFindSector": "admin",
    "WorkerConnect": "admin",
    "WorkerStats": "admin",
    "ComputeWindowPoSt": "admin",
    "CheckProvable": "admin",
    "CreateBackup": "admin",
    "RuntimeSubsystems": "read",
}

# api-methods-worker.md: every worker method is admin.
WORKER_PERMS: dict[str, str] = {
    "Version": "admin",
    "Session": "admin",
    "Shutdown": "admin",
    "Info": "admin",
    "Paths": "admin",
    "Enabled": "admin",
    "TaskTypes": "admin",
    "GenerateWindowPoSt": "admin",
}


def allow_for(perm: str) -> list[str]:
    """Return the Allow list `lotus auth create-token --perm perm` puts in a token; ValueError if unknown."""
    if perm not in ALL_PERMISSIONS:
        raise ValueError(f"--perm flag has to be one of: {', '.join(ALL_PERMISSIONS)}")
    return list(ALL_PERMISSIONS[: ALL_PERMISSIONS.index(perm) + 1])


def missing_permission_text(method: str, need: str) -> str:
    """Return go-jsonrpc's error text for a call the token does not allow."""
    return f"missing permission to invoke '{method}' (need '{need}')"
