"""The simulated `lotus-miner` program: run, info, storage list, proving, backup, init restore, auth."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lotus_sim.cliutil import LotusParser, connect, run_cli
from lotus_sim.lotus_cli import auth, wait_for_sync
from lotus_sim.repo import (
    CliError,
    admin_token,
    ensure_jwt_secret,
    listen_address,
    make_authorizer,
    repo_path,
    wait_for_signal,
    write_api_files,
)
from lotus_sim.rpcclient import RpcClient, multiaddr_for
from lotus_sim.runtime import load_knobs

if TYPE_CHECKING:
    from lotus_sim.world import MinerMetadata

__all__ = ["main"]

CHANGE_PEER_ID = 23  # miner actor method number


def _miner_path() -> Path:
    return repo_path("LOTUS_MINER_PATH", "~/.lotusminer", "LOTUS_STORAGE_PATH")


def _full_node() -> RpcClient:
    # Every lotus-miner command reaches its full node over WebSocket (cli/util/api.go GetFullNodeAPIV1).
    from lotus_sim.minerstart import dial_full_node

    return dial_full_node()


def _miner() -> RpcClient:
    return connect("MINER_API_INFO", _miner_path(), "v0")


def _metadata() -> type[MinerMetadata]:
    from lotus_sim.world import MinerMetadata

    return MinerMetadata


def _read_stores(repo: Path) -> dict[str, Path]:
    from lotus_sim import sectorstore

    try:
        return {sectorstore.read_sectorstore(p).id: p for p in sectorstore.read_storage_json(repo)}
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def run_miner(api_port: str | None, nosync: bool) -> int:
    """`lotus-miner run`: connect to the daemon, load repo and storage, serve until SIGTERM/SIGINT."""
    from lotus_sim.miner import MinerNode
    from lotus_sim.minerconfig import read_miner_config
    from lotus_sim.minerstart import HeadWatch, dial_full_node, preflight_checks
    from lotus_sim.rpc import RpcServer

    repo = _miner_path()
    if not (repo / "config.toml").is_file():
        raise CliError(f"repo at '{repo}' is not initialized, run 'lotus-miner init' to set it up")
    knobs = load_knobs()
    config = read_miner_config(repo / "config.toml")
    full = dial_full_node(check_v0=True)
    if not nosync:
        print("Checking full node sync status", file=sys.stderr, flush=True)
        wait_for_sync(full)
    try:
        metadata = _metadata().from_repo(repo)
    except (OSError, ValueError) as exc:
        raise CliError(f"reading miner metadata from {repo}/datastore: {exc}") from exc
    stop = threading.Event()
    # The sealing pipeline's chain events subscribe while node.New builds the node; PreflightChecks runs
    # when it starts (storageminer.go:251, then :187-215), both before the API is served.
    watch = HeadWatch(full, stop)
    watch.start()
    info, _ = preflight_checks(full, metadata.miner_address)
    stores = _read_stores(repo)
    secret = ensure_jwt_secret(repo)
    node = MinerNode(repo, full, metadata, info, stores, config, knobs, secret,
                     int(full.call("Version")["BlockDelay"]))
    threading.Thread(target=lambda: stop.set() if node.stop.wait() else None, daemon=True).start()
    node.start_wdpost()  # lotus_sim/scheduler.py: the WindowPoSt scheduler Lotus starts with the miner
    host, port = listen_address(repo / "config.toml", api_port, "LOTUS_API_LISTENADDRESS", 2345)
    server = RpcServer(host, port, {"/rpc/v0": node.api()}, make_authorizer(secret),
                       post_routes={"/remote": node.remote_route})  # vanilla proofs for PoSt workers
    server.start()
    dial = "127.0.0.1" if host == "0.0.0.0" else host
    write_api_files(repo, dial, server.port, admin_token(secret))
    print(f"lotus-sim miner (simulated lotus-miner) {metadata.miner_address}: API listening on "
          f"{multiaddr_for(dial, server.port)}", file=sys.stderr, flush=True)
    if not config.disable_winning_post:
        print("WARNING: [Subsystems] DisableWinningPoSt = false: this miner takes part in block production",
              file=sys.stderr, flush=True)
    try:
        wait_for_signal(node.stop)
    finally:
        stop.set()
        server.stop()
        (repo / "api").unlink(missing_ok=True)
        full.close()
    return 0


def info() -> int:
    """`lotus-miner info`."""
    miner, full = _miner(), _full_node()
    subsystems = miner.call("RuntimeSubsystems")
    print(f"Enabled subsystems (from miner API): [{' '.join(subsystems)}]")
    head = full.call("ChainHead")
    age = time.time() - min(b["Timestamp"] for b in head["Blocks"])
    status = "sync ok" if age < 30 * 3 else f"sync behind! ({int(age)}s)"
    print(f"Chain: [{status}] [epoch {head['Height']}]")
    addr = miner.call("ActorAddress")
    mi = full.call("StateMinerInfo", addr, [])
    size = int(mi["SectorSize"])
    shown = f"{size >> 30} GiB" if size >= 1 << 30 else f"{size} B"
    print(f"Miner: {addr} ({shown} sectors)")
    power = full.call("StateMinerPower", addr, [])
    print(f"Power: {power['MinerPower']['QualityAdjPower']} / {power['TotalPower']['QualityAdjPower']}")
    print(f"\tRaw: {power['MinerPower']['RawBytePower']}")
    print(f"Sectors: {len(miner.call('SectorsList'))}")
    return 0


def storage_list() -> int:
    """`lotus-miner storage list`."""
    miner = _miner()
    decls = miner.call("StorageList")
    for sid, path in sorted(miner.call("StorageLocal").items()):
        stat = miner.call("StorageStat", sid)
        files = decls.get(sid) or []
        sealed = sum(1 for d in files if d["SectorFileType"] == 2)
        cache = sum(1 for d in files if d["SectorFileType"] == 4)
        print(f"{sid}:")
        print(f"\t[{'#' * 10}] {stat['Capacity'] - stat['Available']} / {stat['Capacity']} B")
        print(f"\tSealed: {sealed}; Caches: {cache}")
        print(f"\tLocal: {path}")
    return 0


def backup(path: str, offline: bool) -> int:
    """`lotus-miner backup [--offline] FILE`: refuses an existing file, as Lotus does."""
    target = Path(os.path.abspath(os.path.expanduser(path)))
    if target.exists():
        raise CliError(f"backup file {target} already exists; remove it or choose another name "
                       "(overwriting it would corrupt the file)")
    if offline:
        repo = _miner_path()
        if (repo / "api").exists():
            raise CliError(f"repo at '{repo}' is in use by a running lotus-miner; stop it or back up online")
        try:
            _metadata().from_repo(repo).write_backup(target)
        except (OSError, ValueError) as exc:
            raise CliError(f"offline backup: {exc}") from exc
    else:
        _miner().call("CreateBackup", str(target))
    print("Success")
    return 0


def _b58decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = 0
    for ch in text:
        number = number * 58 + alphabet.index(ch)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def init_restore(args: Any) -> int:
    """`lotus-miner init restore`: Lotus's sequence, including the on-chain ChangePeerID it always sends."""
    from lotus_sim import cbor, configs, keystore

    full = _full_node()
    if not args.nosync:
        wait_for_sync(full)
    repo = _miner_path()
    if (repo / "config.toml").exists() or (repo / "datastore").exists():
        raise CliError(f"repo at '{repo}' is already initialized")
    try:
        metadata = _metadata().from_backup(Path(args.backup_file))
    except (OSError, ValueError) as exc:
        raise CliError(f"restoring metadata: {exc}") from exc
    repo.mkdir(parents=True, exist_ok=True)
    if args.config:
        shutil.copyfile(args.config, repo / "config.toml")
    else:
        print("WARN: --config NOT SET, WILL USE DEFAULT VALUES", file=sys.stderr)
        (repo / "config.toml").write_text(configs.miner_config())
    if args.storage_config:
        shutil.copyfile(args.storage_config, repo / "storage.json")
    else:
        print("WARN: --storage-config NOT SET. NO SECTOR PATHS WILL BE CONFIGURED", file=sys.stderr)
        (repo / "storage.json").write_text(json.dumps({"StoragePaths": []}))
    print("Restoring metadata backup", file=sys.stderr)
    metadata.write_repo(repo)
    mi = full.call("StateMinerInfo", metadata.miner_address, [])
    worker_key = full.call("StateAccountKey", mi["Worker"], [])
    if not full.call("WalletHas", worker_key):
        raise CliError(f"worker address {worker_key} for miner actor {metadata.miner_address} not present "
                       "in full node wallet")
    print("Initializing libp2p identity", file=sys.stderr)
    host_key, peer_id = keystore.libp2p_key(random.Random())
    keystore.write_key(repo, keystore.LIBP2P_KEY, host_key)
    params = base64.b64encode(cbor.encode([_b58decode(peer_id)])).decode()
    message = {"To": metadata.miner_address, "From": mi["Worker"], "Value": "0", "Method": CHANGE_PEER_ID,
               "Params": params}
    signed = full.call("MpoolPushMessage", message, None)
    print(f"Message CID: {signed['CID']['/']}", file=sys.stderr)
    print("Miner restored successfully")
    return 0


def proving(args: Any) -> int:
    """`lotus-miner proving info|deadlines|check|compute window-post`."""
    from lotus_sim import proving_cli

    return proving_cli.run(args, _miner(), _full_node())


def _parser() -> LotusParser:
    parser = LotusParser(prog="lotus-miner", description="Filecoin storage miner (simulated by lotus-sim)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--miner-api", help="API port (default: [API] ListenAddress of config.toml, else 2345)")
    r.add_argument("--nosync", action="store_true")
    r.add_argument("--enable-gpu-proving", default="true")
    sub.add_parser("info")
    sub.add_parser("storage").add_subparsers(dest="storage_cmd", required=True).add_parser("list")
    b = sub.add_parser("backup")
    b.add_argument("--offline", action="store_true")
    b.add_argument("path")
    i = sub.add_parser("init").add_subparsers(dest="init_cmd", required=True).add_parser("restore")
    i.add_argument("--nosync", action="store_true")
    i.add_argument("--config")
    i.add_argument("--storage-config")
    i.add_argument("backup_file")
    a = sub.add_parser("auth").add_subparsers(dest="auth_cmd", required=True)
    for name in ("create-token", "api-info"):
        a.add_parser(name).add_argument("--perm")
    from lotus_sim import proving_cli

    proving_cli.add_parser(sub)
    return parser


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "run":
        return run_miner(args.miner_api, args.nosync)
    if args.cmd == "info":
        return info()
    if args.cmd == "storage":
        return storage_list()
    if args.cmd == "backup":
        return backup(args.path, args.offline)
    if args.cmd == "init":
        return init_restore(args)
    if args.cmd == "auth":
        return auth(args.auth_cmd, args.perm, "MINER_API_INFO", _miner_path(), "v0")
    return proving(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the simulated `lotus-miner`."""
    return run_cli(_main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
