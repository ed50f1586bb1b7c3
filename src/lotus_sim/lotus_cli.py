"""The simulated `lotus` program: daemon, sync wait|status, auth, wallet list, chain head, version."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lotus_sim.chain import ChainSync
from lotus_sim.cliutil import LotusParser, bool_flag, connect, run_cli
from lotus_sim.clock import Clock
from lotus_sim.perms import ALL_PERMISSIONS, allow_for
from lotus_sim.repo import (
    CliError,
    admin_token,
    ensure_jwt_secret,
    listen_address,
    make_authorizer,
    repo_path,
    wait_for_signal,
    wallet_addresses,
    write_api_files,
)
from lotus_sim.rpcclient import RpcClient, multiaddr_for
from lotus_sim.runtime import Knobs, load_knobs, record_dir
from lotus_sim.version import node_version

if TYPE_CHECKING:
    from lotus_sim.world import World

__all__ = ["auth", "main", "wait_for_sync"]

STAGES = {0: "idle", 1: "header sync", 2: "persisting headers", 3: "message sync", 4: "complete",
          5: "error", 6: "fetching messages"}


def _lotus_path() -> Path:
    return repo_path("LOTUS_PATH", "~/.lotus")


def _chain_dir(repo: Path) -> Path:
    return repo / "datastore" / "chain"


def import_snapshot(repo: Path, source: Path, remove_existing: bool) -> dict[str, Any]:
    """Validate a chain snapshot (zstd or raw CAR) and keep it as the repo's chain; return its head."""
    from lotus_sim.snapshot import read_head

    print(f"importing chain from {source}...", file=sys.stderr)
    if not source.is_file():
        raise CliError(f"importing chain failed: {source}: no such file")
    head, _, _ = read_head(source)  # raises FormatError on a corrupt or truncated CAR
    target = _chain_dir(repo)
    if remove_existing and target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target / "snapshot.car")
    info = {"height": head.height, "timestamp": head.timestamp, "cids": list(head.cids)}
    (target / "head.json").write_text(json.dumps(info))
    return info


def _load_world(chain: Path) -> World | None:
    from lotus_sim.world import World

    if not chain.is_file():
        return None
    try:
        return World.from_car(chain)
    except ValueError:
        # A real Lotus snapshot has no lotus-sim state block: the chain runs, miner state is absent.
        return None


def _encode_sectors(repo: Path) -> None:
    # As Lotus's import writes the state into its blockstore, the stand-in encodes StateMinerSectors here,
    # so that the daemon started next answers a million sectors from the file at once.
    from lotus_sim.sectorcache import SectorCache, cache_dir

    world = _load_world(_chain_dir(repo) / "snapshot.car")
    if world is not None:
        # Forking pays off only for big miners; this process has no threads, so forking is safe here.
        workers = (os.cpu_count() or 1) if world.sector_count() >= 100_000 else 1
        try:
            SectorCache.load(world, cache_dir(repo)) or SectorCache.build(world, cache_dir(repo), workers)
        except OSError as exc:  # only slower without it: the import itself succeeded
            print(f"lotus-sim: encoding the miner's sectors in {cache_dir(repo)} failed ({exc}); the daemon "
                  "answers StateMinerSectors without it", file=sys.stderr)


def _exit_mid_sync(sync: ChainSync) -> None:
    halfway = sync.base_height + max(1, sync.initial_lag() // 2)
    while sync.head_height() < halfway:
        time.sleep(0.05)
    print("lotus-sim: daemon exiting mid-sync (fault LOTUS_SIM_EXIT_MID_SYNC)", file=sys.stderr, flush=True)
    os._exit(1)


def run_daemon(args: Any, knobs: Knobs) -> int:
    """`lotus daemon`: import if asked, then serve the API until SIGTERM/SIGINT."""
    # Imported here so the CLI's other commands start fast; the daemon itself must answer within 1 s.
    from lotus_sim.daemon import API_VERSION_V0, API_VERSION_V1, DaemonNode
    from lotus_sim.mpool import record_to
    from lotus_sim.rpc import RpcServer
    from lotus_sim.sectorcache import cache_dir

    repo = _lotus_path()
    repo.mkdir(parents=True, exist_ok=True)
    snapshot = args.import_snapshot or args.import_chain
    if snapshot:
        import_snapshot(repo, Path(snapshot), args.remove_existing_chain)
        if args.halt_after_import:
            _encode_sectors(repo)
            print("Chain import complete, halting as requested...")
            return 0
    if not (repo / "config.toml").exists():
        (repo / "config.toml").write_text('[API]\n  ListenAddress = "/ip4/127.0.0.1/tcp/1234/http"\n')
    secret = ensure_jwt_secret(repo)
    clock = Clock(genesis=knobs.genesis, block_delay=args.block_delay or knobs.block_delay)
    head_file = _chain_dir(repo) / "head.json"
    head: dict[str, Any] = {"height": 0, "timestamp": clock.genesis, "cids": []}
    if head_file.is_file():
        head = json.loads(head_file.read_text())
    sync = ChainSync(clock, int(head["height"]), int(head["timestamp"]), tuple(head["cids"]), knobs.sync_rate,
                     bootstrap=args.bootstrap, never_sync=knobs.never_sync)
    node = DaemonNode(
        sync,
        lambda: _load_world(_chain_dir(repo) / "snapshot.car"),
        lambda: wallet_addresses(repo),
        secret,
        record_to(record_dir(knobs, repo) / "mpool-push.jsonl"),
        knobs.peers,
        cache_dir(repo),
    )
    host, port = listen_address(repo / "config.toml", args.api, "LOTUS_API_LISTENADDRESS", 1234)
    server = RpcServer(
        host, port,
        {"/rpc/v0": node.api(API_VERSION_V0), "/rpc/v1": node.api(API_VERSION_V1)},
        make_authorizer(secret),
        {"/health/livez": lambda: node.health(False), "/health/readyz": lambda: node.health(True)},
    )
    server.start()
    dial = "127.0.0.1" if host == "0.0.0.0" else host
    write_api_files(repo, dial, server.port, admin_token(secret))
    print(f"lotus-sim daemon (simulated Lotus): API listening on {multiaddr_for(dial, server.port)}",
          file=sys.stderr, flush=True)
    if knobs.exit_mid_sync and args.bootstrap:
        threading.Thread(target=_exit_mid_sync, args=(sync,), daemon=True).start()
    try:
        wait_for_signal(node.stop)
    finally:
        server.stop()
        (repo / "api").unlink(missing_ok=True)
        height = sync.head_height()
        # Keep the head so that a restarted daemon resumes where it stopped, as Lotus's datastore does.
        if head_file.parent.is_dir():
            cids = list(sync.base_cids) if height == sync.base_height else []
            state = {"height": height, "timestamp": sync.timestamp_of(height), "cids": cids}
            head_file.write_text(json.dumps(state))
    return 0


def sync_wait(watch: bool) -> int:
    """`lotus sync wait`."""
    return wait_for_sync(connect("FULLNODE_API_INFO", _lotus_path(), "v1"), watch)


def wait_for_sync(api: RpcClient, watch: bool = False) -> int:
    """Lotus's SyncWait loop: done once the head is less than one block delay old (lotus-miner uses it)."""
    block_delay = int(api.call("Version")["BlockDelay"])
    last = ""
    while True:
        state = api.call("SyncState")
        syncs = state.get("ActiveSyncs") or []
        if not syncs:
            time.sleep(1)  # Lotus never checks the head without sync workers: no peers, no "Done!"
            continue
        head = api.call("ChainHead")
        working = next((i for i, s in enumerate(syncs) if s["Stage"] not in (0, 4)), len(syncs) - 1)
        ss = syncs[working]
        target = ss["Target"]["Height"] if ss.get("Target") else 0
        base = ss["Base"]["Height"] if ss.get("Base") else 0
        line = (f"Worker: {working}; Base: {base}; Target: {target} (diff: {target - base})\n"
                f"State: {STAGES.get(ss['Stage'], ss['Stage'])}; Current Epoch: {ss['Height']}; "
                f"Todo: {target - ss['Height']}")
        if line != last:
            print(line, flush=True)
            last = line
        min_ts = min(b["Timestamp"] for b in head["Blocks"])
        if time.time() - min_ts < block_delay and not watch:
            print("\nDone!")
            return 0
        time.sleep(0.25)


def sync_status() -> int:
    """`lotus sync status`."""
    api = connect("FULLNODE_API_INFO", _lotus_path(), "v1")
    print("sync status:")
    for i, ss in enumerate(api.call("SyncState").get("ActiveSyncs") or []):
        base, target = ss.get("Base") or {}, ss.get("Target") or {}
        print(f"worker {i}:")
        print(f"\tBase:\t{[c['/'] for c in base.get('Cids', [])]}")
        print(f"\tTarget:\t{[c['/'] for c in target.get('Cids', [])]} ({target.get('Height', 0)})")
        print(f"\tHeight diff:\t{target.get('Height', 0) - base.get('Height', 0)}")
        print(f"\tStage: {STAGES.get(ss['Stage'], ss['Stage'])}")
        print(f"\tHeight: {ss['Height']}")
    return 0


def auth(kind: str, perm: str | None, env_var: str, repo: Path, version: str) -> int:
    """`auth create-token|api-info --perm P` for the daemon or the miner."""
    if perm is None:
        raise CliError("--perm flag not set, use with one of: " + ", ".join(ALL_PERMISSIONS))
    try:
        allow = allow_for(perm)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    api = connect(env_var, repo, version)

    token = base64.b64decode(api.call("AuthNew", allow)).decode()
    if kind == "create-token":
        print(token)
        return 0
    base = api.url.split("://", 1)[1].split("/", 1)[0]
    host, port = base.rsplit(":", 1)
    print(f"{env_var}={token}:{multiaddr_for(host, int(port))}")
    return 0


def _parser() -> LotusParser:
    parser = LotusParser(prog="lotus", description="Filecoin network client (simulated by lotus-sim)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("daemon", help="Start a lotus daemon process")
    d.add_argument("action", nargs="?", choices=["stop"])
    d.add_argument("--api", help="API port (default: [API] ListenAddress of config.toml, else 1234)")
    d.add_argument("--bootstrap", type=bool_flag, nargs="?", const=True, default=True)
    d.add_argument("--import-snapshot")
    d.add_argument("--import-chain")
    d.add_argument("--remove-existing-chain", type=bool_flag, nargs="?", const=True, default=False)
    d.add_argument("--halt-after-import", type=bool_flag, nargs="?", const=True, default=False)
    d.add_argument("--block-delay", type=int, default=0, help="lotus-sim: seconds per epoch (devnet clock)")
    d.add_argument("--genesis")
    d.add_argument("--config")
    s = sub.add_parser("sync").add_subparsers(dest="sync_cmd", required=True)
    s.add_parser("wait").add_argument("--watch", action="store_true")
    s.add_parser("status")
    a = sub.add_parser("auth").add_subparsers(dest="auth_cmd", required=True)
    for name in ("create-token", "api-info"):
        a.add_parser(name).add_argument("--perm")
    w = sub.add_parser("wallet").add_subparsers(dest="wallet_cmd", required=True)
    w.add_parser("list").add_argument("--addr-only", "-a", action="store_true")
    sub.add_parser("chain").add_subparsers(dest="chain_cmd", required=True).add_parser("head")
    sub.add_parser("version")
    return parser


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "daemon":
        if args.action == "stop":
            connect("FULLNODE_API_INFO", _lotus_path(), "v1").call("Shutdown")
            return 0
        return run_daemon(args, load_knobs())
    if args.cmd == "sync":
        return sync_wait(args.watch) if args.sync_cmd == "wait" else sync_status()
    if args.cmd == "auth":
        return auth(args.auth_cmd, args.perm, "FULLNODE_API_INFO", _lotus_path(), "v1")
    api = connect("FULLNODE_API_INFO", _lotus_path(), "v1")
    if args.cmd == "wallet":
        addrs = api.call("WalletList")
        if args.addr_only:
            print("\n".join(addrs))
        else:
            print("Address  Balance  Nonce  Default")
            for a in addrs:
                print(f"{a}  0 FIL  0")
        return 0
    if args.cmd == "chain":
        for cid in api.call("ChainHead")["Cids"]:
            print(cid["/"])
        return 0
    version = api.call("Version")
    v = version["APIVersion"]
    print(f"Daemon:  {version['Version']}+api{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}")
    print(f"Local: lotus version {node_version()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the simulated `lotus`."""
    return run_cli(_main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
