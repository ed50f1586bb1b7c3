"""Reaching a standby role's API: its admin token from the restored repo, a narrower token minted with its own
CLI, and the facts the restored chain snapshot and metadata backup tell about themselves."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

from spdrill.bringup.probes import StandbyProbe
from spdrill.errors import DrillError, InputError, LotusRPCError, SafetyError
from spdrill.fence import KeyHolder
from spdrill.findings import RestoreFinding
from spdrill.lotus import ApiInfo, FullNodeClient, MinerClient
from spdrill.plan import Plan, start_timeout_advice
from spdrill.redact import redact, register
from spdrill.restore import RestoredParts
from spdrill.targets import Target
from spdrill.waits import WaitTimeout, wait_for
from spdrill.workfs import WorkFS

BACKUP_FETCH_LIMIT = 256 * 2**20  # a metadata backup larger than this is left on the standby host unchecked
PROGRAM = {"daemon": "lotus", "miner": "lotus-miner"}
REPO_VARS = {"daemon": ("LOTUS_PATH", "FULLNODE_API_INFO"), "miner": ("LOTUS_MINER_PATH", "MINER_API_INFO")}


def api_up(target: Target, fs: WorkFS, plan: Plan, role: str, port: int,
           repo: Path) -> tuple[ApiInfo, ApiInfo, str]:
    """Wait for a role's API (admin token from its restored repo), then mint a read token with its CLI."""
    host, hport = target.endpoint(role, port)
    admin = token_from_repo(fs, repo, role, host, hport)
    probe = StandbyProbe(target, role)
    client: FullNodeClient | MinerClient = FullNodeClient(admin) if role == "daemon" else MinerClient(admin)
    try:
        version = wait_for(lambda: probe.api_up(client), what=f"{PROGRAM[role]} API",
                           deadline=plan.standby.timeouts.start)
    except WaitTimeout as exc:
        raise WaitTimeout(exc.what, exc.deadline, f"{exc.last}; {start_timeout_advice(plan.standby.env)}") from None
    finally:
        client.close()
    repo_var, info_var = REPO_VARS[role]
    read = cli_token(target, plan, [PROGRAM[role], "auth", "api-info", "--perm", "read"], info_var, host, hport,
                     **{repo_var: target.path(repo)})
    return admin, read, version


def token_from_repo(fs: WorkFS, repo: Any, role: str, host: str, port: int) -> ApiInfo:
    """The admin token a role's repo holds, pointed at where the harness reaches that role."""
    token_file = repo / "token"
    try:
        token = fs.read_text(token_file).strip()
    except (OSError, DrillError):
        raise InputError(f"the restored {role} repo has no token file ({token_file}); the repo backup is "
                         "incomplete (Lotus writes it on first start)") from None
    register(token)
    return ApiInfo.parse(f"{token}:{maddr(host, port)}")


def cli_token(target: Target, plan: Plan, argv: list[str], var: str, host: str, port: int, **env: str) -> ApiInfo:
    """A token of the permission `argv` asks for (`… auth api-info --perm P`), minted by the role's own CLI."""
    res = target.run(argv, env={**plan.standby.env, **env}, timeout=60)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith(var + "=")), None)
    if res.returncode != 0 or line is None:
        raise InputError(f"`{' '.join(argv)}` gave no {var} line (exit {res.returncode}): "
                         f"{tail(redact(res.stderr))}")
    info = ApiInfo.parse(line.split("=", 1)[1])
    if info.token:
        register(info.token)
    return ApiInfo.parse(f"{info.token}:{maddr(host, port)}")


def account_key(client: FullNodeClient, address: str) -> str:
    """The key address behind an ID address (MinerInfo names owner/worker/control by ID; wallets list keys)."""
    if address[1:2] != "0":
        return address
    key = client.rpc.call("StateAccountKey", address, [])
    if not isinstance(key, str):
        raise InputError(f"StateAccountKey({address}) gave {type(key).__name__}, expected an address")
    return key


def key_holder(client: FullNodeClient, address: str) -> KeyHolder:
    """Who signs for an address MinerInfo names: its account key, or each signer's key when it is a multisig."""
    if address[1:2] != "0":
        return KeyHolder.account(address)
    try:
        return KeyHolder.account(address, account_key(client, address))
    except LotusRPCError as exc:
        # StateAccountKey resolves account actors only: for any other it fails with "failed to get account
        # actor state for <a>: actor code is not account: <name>" (Lotus chain/vm/vm.go:69-72,
        # chain/actors/builtin/account/account.go:29-31). A multisig owner is one Lotus supports.
        failure = exc.rpc_message
    try:
        msig = client.multisig(address)
    except LotusRPCError as exc:
        raise SafetyError(f"fence: cannot tell which keys sign for {address}: StateAccountKey failed ({failure}) "
                          f"and StateReadState failed ({exc.rpc_message}); lotus-miner was not started") from None
    if msig is None:
        raise SafetyError(f"fence: {address} is neither an account nor a multisig (StateAccountKey: {failure}), "
                          "so the fence cannot tell which keys sign for it; lotus-miner was not started. Check "
                          "its keys by hand (`lotus state get-actor`, `lotus state read-state`)")
    keys = []
    for signer in msig.signers:
        try:
            keys.append(account_key(client, signer))
        except LotusRPCError as exc:
            raise SafetyError(f"fence: signer {signer} of the multisig {address} has no key address "
                              f"(StateAccountKey: {exc.rpc_message}); the fence cannot check it, lotus-miner was "
                              "not started") from None
    return KeyHolder(address, tuple(keys), msig.threshold)


def maddr(host: str, port: int) -> str:
    return f"/ip4/{host}/tcp/{port}/http"


def tail(text: str, lines: int = 5) -> str:
    return " | ".join(redact(text).strip().splitlines()[-lines:]) or "(no output)"


def describe_restore_files(parts: RestoredParts, started: datetime, found: RestoreFinding) -> RestoreFinding:
    """`found` with what the chain snapshot and the metadata backup tell about themselves (read from the files)."""
    from spdrill.lotus.backup import check_backup
    from spdrill.lotus.car import read_snapshot_head

    if parts.chain_snapshot is not None:
        try:
            head = read_snapshot_head(parts.chain_snapshot)
            found = dataclasses.replace(found, chain_snapshot=parts.chain_snapshot.name,
                                        chain_snapshot_height=head.height,
                                        chain_snapshot_age_seconds=started.timestamp() - head.timestamp)
        except DrillError as exc:
            found = dataclasses.replace(found, chain_snapshot_error=str(exc))
    if parts.miner_backup is not None:
        chk = check_backup(parts.miner_backup)
        found = dataclasses.replace(
            found, miner_backup=parts.miner_backup.name, miner_backup_ok=chk.ok, miner_backup_detail=chk.reason,
            miner_backup_keys=chk.info.keys if chk.info is not None else None,
            miner_backup_age_seconds=started.timestamp() - parts.miner_backup.stat().st_mtime)
    return found


def fetch_backup(fs: WorkFS, backup: Path, scratch: Path, found: RestoreFinding) -> tuple[Path | None, RestoreFinding]:
    """Copy the metadata backup from the standby host, so it is checked here like a local one; None if too big."""
    dest = scratch / backup.name
    if fs.fetch(backup, dest, limit=BACKUP_FETCH_LIMIT):
        return dest, dataclasses.replace(found, miner_backup_copied_from=str(backup))
    return None, dataclasses.replace(found, miner_backup_unchecked=(
        f"{backup} is over {BACKUP_FETCH_LIMIT // 2**20} MiB: not copied here to check; run "
        f"`spdrill check-backup {backup}` on the standby host"))
