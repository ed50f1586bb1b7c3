"""The simulated `lotus-worker` program: `run --windowpost` and `info`."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from lotus_sim.cliutil import LotusParser, bool_flag, connect, run_cli
from lotus_sim.repo import CliError, repo_path, wait_for_signal, write_api_files
from lotus_sim.rpcclient import CallError, multiaddr_for
from lotus_sim.runtime import load_knobs
from lotus_sim.version import node_version

__all__ = ["main"]

API_VERSION_MINER = 66816  # the only lotus-miner API this worker accepts (1.5.0)


def _worker_path() -> Path:
    return repo_path("LOTUS_WORKER_PATH", "~/.lotusworker", "WORKER_PATH")


def _local_paths(repo: Path, enabled: bool) -> list[dict[str, Any]]:
    """The worker's own storage path (Lotus creates one in its repo unless --no-local-storage)."""
    if not enabled:
        return []
    store = repo / "local"
    meta_file = store / "sectorstore.json"
    if not meta_file.is_file():
        store.mkdir(parents=True, exist_ok=True)
        meta = {"ID": str(uuid.uuid4()), "Weight": 10, "CanSeal": True, "CanStore": False, "MaxStorage": 0,
                "Groups": [], "AllowTo": [], "AllowTypes": [], "DenyTypes": [], "AllowMiners": [],
                "DenyMiners": []}
        meta_file.write_text(json.dumps(meta, indent=2))
    meta = json.loads(meta_file.read_text())
    return [{"ID": meta["ID"], "Weight": meta["Weight"], "LocalPath": str(store.resolve()),
             "CanSeal": meta["CanSeal"], "CanStore": meta["CanStore"]}]


def run_worker(args: Any) -> int:
    """`lotus-worker run --windowpost`: wait for the miner, serve, register through WorkerConnect."""
    from lotus_sim.rpc import RpcServer
    from lotus_sim.worker import WorkerNode, fd_limit_refusal

    if not args.windowpost:
        raise CliError("lotus-sim's worker only simulates WindowPoSt workers: pass --windowpost")
    repo = _worker_path()
    repo.mkdir(parents=True, exist_ok=True)
    knobs = load_knobs()
    refusal = fd_limit_refusal(knobs.worker_fd_min)  # cli/worker/worker.go:309-318, before the miner is dialled
    if refusal is not None:
        print(refusal, file=sys.stderr, flush=True)
        return 0  # cmd/lotus-worker/main.go:21-24 only logs app.Run's error: the process exits 0
    # HTTP, not WebSocket: lotus-worker asks for StorageMinerUseHttp (cli/worker/worker.go:362,
    # cli/util/api.go:494-522), and the miner calls the worker back over http:// too.
    miner = connect("MINER_API_INFO", repo_path("LOTUS_MINER_PATH", "~/.lotusminer", "LOTUS_STORAGE_PATH"))
    while True:  # Lotus loops until the miner answers
        try:
            version = miner.call("Version")
            break
        except CallError as exc:
            print(f"lotus-sim worker: waiting for the miner API: {exc}", file=sys.stderr, flush=True)
            time.sleep(1)
    if int(version["APIVersion"]) != API_VERSION_MINER:
        raise CliError(f"lotus-miner API version doesn't match: expected: 1.5.0, got {version['APIVersion']}")
    host, _, port = args.listen.rpartition(":")
    node = WorkerNode(miner, knobs, _local_paths(repo, not args.no_local_storage), args.enable_gpu_proving)
    server = RpcServer(host or "0.0.0.0", int(port), {"/rpc/v0": node.api()}, node.authorize)
    server.start()
    dial_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
    url = f"http://{dial_host}:{server.port}/rpc/v0"
    listening = multiaddr_for(dial_host, server.port)
    print(f"lotus-sim worker (simulated lotus-worker): API listening on {listening}", file=sys.stderr,
          flush=True)
    try:
        miner.call("WorkerConnect", url)
    except CallError as exc:
        server.stop()
        (repo / "api").unlink(missing_ok=True)
        raise CliError(f"registering worker with the miner: {exc}") from exc
    # The api file appears once the miner knows the worker, so whoever waits for it can use the worker.
    write_api_files(repo, dial_host, server.port, miner.token)
    threading.Thread(target=node.keep_registered, args=(url,), daemon=True).start()
    try:
        wait_for_signal(node.stop)
    finally:
        server.stop()
        (repo / "api").unlink(missing_ok=True)
    return 0


def info() -> int:
    """`lotus-worker info`."""
    api = connect("WORKER_API_INFO", _worker_path())
    version = api.call("Version")
    details = api.call("Info")
    res = details["Resources"]
    tasks = api.call("TaskTypes")
    print(f"Worker version:  {version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}")
    print(f"CLI version: lotus-worker version {node_version()}")
    print(f"Session: {api.call('Session')}")
    print(f"Enabled: {str(api.call('Enabled')).lower()}")
    print(f"Hostname: {details['Hostname']}")
    print(f"CPUs: {res['CPUs']}; GPUs: [{', '.join(res['GPUs'])}]")
    print(f"RAM: {res['MemUsed'] >> 30} GiB/{res['MemPhysical'] >> 30} GiB; "
          f"Swap: {res['MemSwapUsed'] >> 30} GiB/{res['MemSwap'] >> 30} GiB")
    short = {"post/v0/windowproof": "WDP", "post/v0/winningproof": "WNP"}
    print(f"Task types: {' '.join(short.get(t, t) for t in sorted(tasks))} ")
    print()
    for path in api.call("Paths"):
        print(f"{path['ID']}:")
        print(f"\tWeight: {path['Weight']}; Use: {'Seal ' if path['CanSeal'] else ''}"
              f"{'Store' if path['CanStore'] else ''}")
        print(f"\tLocal: {path['LocalPath']}")
    return 0


def _parser() -> LotusParser:
    parser = LotusParser(prog="lotus-worker", description="Remote miner worker (simulated by lotus-sim)")
    parser.add_argument("--enable-gpu-proving", type=bool_flag, nargs="?", const=True, default=True)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--windowpost", type=bool_flag, nargs="?", const=True, default=False)
    r.add_argument("--listen", default="0.0.0.0:3456")
    r.add_argument("--no-local-storage", action="store_true")
    r.add_argument("--name")
    r.add_argument("--enable-gpu-proving", dest="run_gpu", type=bool_flag, nargs="?", const=True)
    sub.add_parser("info")
    return parser


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "info":
        return info()
    if getattr(args, "run_gpu", None) is not None:
        args.enable_gpu_proving = args.run_gpu
    return run_worker(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the simulated `lotus-worker`."""
    return run_cli(_main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
