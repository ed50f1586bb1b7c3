"""The bring-up: restore, then the daemon branch and the worker branch in parallel, then the fenced miner and
the PoSt checks. Each stage is a timed phase in the journal and a result on the stage board."""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spdrill import failover, fence, isolation
from spdrill.errors import CannotRunError, DrillError, InputError, LotusRPCError
from spdrill.firewall import ChainFirewall
from spdrill.journal import JournalBuilder, PhaseNote, RestorePointRecord
from spdrill.lotus import ApiInfo, FullNodeClient, MinerClient
from spdrill.plan import CHALLENGE_WINDOW_S, Plan
from spdrill.redact import redact
from spdrill.restore import Restored, RestoredParts, find_parts, remap_storage, restore
from spdrill.stages import StageBoard, StageResult
from spdrill.standby import StandbyProbe
from spdrill.standbyapi import (
    api_up,
    cli_token,
    describe_restore_files,
    fetch_backup,
    key_holder,
    maddr,
    tail,
    token_from_repo,
)
from spdrill.targets import Target, publish_workspace, source_runner_of, workfs_of
from spdrill.waits import ProbeGaveUp, wait_for

log = logging.getLogger("spdrill.bringup")

StageFn = Callable[[PhaseNote], str]

# Stage graph: name -> (branch, stages it runs after). The order here is the order of a serial run.
GRAPH: dict[str, tuple[str, tuple[str, ...]]] = {
    "restore": ("main", ()),
    "import-chain": ("daemon", ("restore",)),
    "start-daemon": ("daemon", ("import-chain",)),
    "sync": ("daemon", ("start-daemon",)),
    "start-worker": ("worker", ("restore",)),
    "fence": ("miner", ("start-daemon",)),
    "start-miner": ("miner", ("fence",)),
    "storage": ("miner", ("start-miner",)),
    "worker-connected": ("miner", ("start-miner", "start-worker")),
    "check-provable": ("miner", ("start-miner",)),
    "post-dry-run": ("miner", ("sync", "worker-connected", "check-provable")),
    "reconcile": ("chain", ("check-provable",)),
}



# Stages that only read another stage's findings, so that stage failing (but having run) does not block them.
_READS_ONLY: dict[str, tuple[str, ...]] = {"reconcile": ("check-provable",)}


@dataclass
class Endpoints:
    """API addresses and tokens of the standby; tokens are registered for redaction when set."""

    daemon_admin: ApiInfo | None = None
    daemon_read: ApiInfo | None = None
    miner_admin: ApiInfo | None = None
    miner_read: ApiInfo | None = None
    ports: dict[str, int] = field(default_factory=dict)


class BringUp:
    """Runs the stage graph for one drill on one target; never raises out of `run` (results say what failed)."""

    def __init__(self, plan: Plan, target: Target, journal: JournalBuilder, board: StageBoard,
                 failover_mode: failover.FailoverMode | None = None) -> None:
        self.plan = plan
        self.failover = failover_mode  # None: an ordinary drill, which never runs `lotus-miner init restore`
        self.graph = GRAPH if failover_mode is None else failover.failover_graph(GRAPH, failover_mode.nosync)
        if failover_mode is not None:
            journal.fact(failover.MODE_FACT, "failover")
            journal.fact(failover.NEXT_STEP_FACT, failover.NEXT_STEP)
        self.target = target
        self.journal = journal
        self.board = board
        self.ep = Endpoints()
        self.restored: Restored | None = None
        self.parts: RestoredParts | None = None
        self.root: Path | None = None  # the drill's private folder on the target
        self.fs = workfs_of(target)  # where that folder's files are read and written
        self.cannot_run: CannotRunError | None = None
        # The metadata backup as a file on this host: the restored one, or a copy of it from the standby host.
        self.backup_copy: Path | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._stop = threading.Event()
        self.firewall: ChainFirewall | None = None  # between the standby miner and daemon (not in failover)
        self.firewall_route: tuple[str, int] | None = None  # where the roles dial it
        self._spawned: set[str] = set()  # roles this drill started, whose death is a finding

    # -- the graph ---------------------------------------------------------------------------------------
    def run(self) -> None:
        """Run every stage in dependency order, the daemon and worker branches in parallel."""
        if not self.target.brings_up:
            self._run_attached()
            return
        try:
            self._stage("restore", self._restore)
            daemon = threading.Thread(target=self._daemon_branch, name="drill-daemon", daemon=True)
            worker = threading.Thread(target=lambda: self._stage("start-worker", self._start_worker),
                                      name="drill-worker", daemon=True)
            daemon.start()
            worker.start()
            self.board.wait("start-daemon")
            miner_stages: list[tuple[str, StageFn]] = [("fence", self._fence), ("start-miner", self._start_miner),
                                                       ("storage", self._storage)]
            if self.failover is not None:
                miner_stages.insert(1, ("init-restore", self._init_restore))
            for name, fn in miner_stages:
                self._stage(name, fn)
            self.board.wait("start-worker")
            self._stage("worker-connected", self._worker_connected)
            self._stage("check-provable", self._check_provable)
            reconcile = threading.Thread(target=lambda: self._stage("reconcile", self._reconcile),
                                         name="drill-reconcile", daemon=True)
            reconcile.start()  # reads the chain while the miner proves: off the PoSt's path
            self.board.wait("sync")
            self._stage("post-dry-run", self._post_dry_run)
            self.board.wait("reconcile")
        finally:
            self.board.close("the bring-up ended")

    def _run_attached(self) -> None:
        """Checks only, against a standby that is already running: nothing restored, started or stopped."""
        try:
            for name in ("restore", "import-chain", "start-worker"):
                self._not_applicable(name, "the attach target restores and starts nothing")
            for name, fn in (("start-daemon", self._attach_daemon), ("sync", self._sync),
                             ("fence", self._fence), ("start-miner", self._attach_miner), ("storage", self._storage),
                             ("worker-connected", self._worker_connected), ("check-provable", self._check_provable),
                             ("post-dry-run", self._post_dry_run), ("reconcile", self._reconcile)):
                self._stage(name, fn)
        finally:
            self.board.close("the checks ended")

    def _not_applicable(self, name: str, why: str) -> None:
        self.board.publish(StageResult(name, True, f"not applicable: {why}", self.journal.clock.elapsed(),
                                       {"not_applicable": True}))

    def _attach_daemon(self, note: PhaseNote) -> str:
        info = self.target.api_info("daemon")  # type: ignore[attr-defined]
        version = FullNodeClient(info).version()
        self.ep.daemon_admin = self.ep.daemon_read = info
        self.journal.version("lotus", version.version, simulated="lotus-sim" in version.agent)
        return f"attached to daemon {version.version}"

    def _attach_miner(self, note: PhaseNote) -> str:
        info = self.target.api_info("miner")  # type: ignore[attr-defined]
        client = MinerClient(info)
        version = client.version()
        self.ep.miner_admin = self.ep.miner_read = info
        actor = client.actor_address()
        note.facts["actor"] = actor
        self.journal.version("lotus-miner", version.version, simulated="lotus-sim" in version.agent)
        return f"attached to lotus-miner {version.version} as {actor}"

    def stop(self) -> None:
        self._stop.set()

    def release(self) -> None:
        """Stop the chain firewall (its record goes to the journal) and remove what the bring-up kept here."""
        if self.firewall is not None:
            self.firewall.stop()
            seen = self.firewall.report()
            self.journal.fact("chain_firewall", seen.summary())
            self.journal.fact("chain_firewall_refused", seen.refused_total)
            self.journal.fact("chain_firewall_refused_methods",
                              ", ".join(f"{r.method} x{r.count}" for r in seen.refused) or "none")
            self.firewall = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def _daemon_branch(self) -> None:
        for name, fn in (("import-chain", self._import_chain), ("start-daemon", self._start_daemon),
                         ("sync", self._sync)):
            self._stage(name, fn)

    def _blocks(self, name: str, dep: str) -> bool:
        """Whether `dep`'s outcome keeps `name` from running (a stage that only reads findings runs anyway)."""
        result = self.board.wait(dep)
        if result.ok:
            return False
        return dep not in _READS_ONLY.get(name, ()) or result.blocked

    def _stage(self, name: str, fn: StageFn) -> StageResult:
        branch, after = self.graph[name]
        failed = [d for d in after if self._blocks(name, d)]
        if failed or self._stop.is_set():
            reason = f"blocked: {', '.join(failed)} failed" if failed else "blocked: drill stopped"
            self.journal.blocked(name, branch=branch, after=after, reason=reason)
            result = StageResult(name, False, reason, self.journal.clock.elapsed(), blocked=True)
            self.board.publish(result)
            return result
        data: dict[str, Any] = {}
        ok, detail = True, ""
        try:
            with self.journal.phase(name, branch=branch, after=after) as note:
                note.facts = data
                detail = fn(note)
                note.detail = detail
        except CannotRunError as exc:
            ok, detail = False, redact(str(exc))
            dead = self._dead_roles()
            if dead:  # a standby process we started died: a finding about the restore (exit 1), not "could not run"
                detail = f"{dead}; {detail}"
            else:
                self.cannot_run = self.cannot_run or exc
        except DrillError as exc:
            ok, detail = False, redact(str(exc))
        except Exception as exc:  # a bug or a foreign error: record it, keep the run tidy, never lose teardown
            ok, detail = False, redact(f"{exc.__class__.__name__}: {exc}")
            log.error("stage %s crashed:\n%s", name, redact(traceback.format_exc()))
        result = StageResult(name, ok, detail, self.journal.clock.elapsed(), dict(data))
        self.board.publish(result)
        return result

    # -- stages ------------------------------------------------------------------------------------------
    def _restore(self, note: PhaseNote) -> str:
        root = self.target.open(self.journal.drill_id)
        self.root = root
        started = self.journal.clock.wall()
        self.restored = restore(self.plan.restore, drill_id=self.journal.drill_id, root=root, at=started,
                                runner=source_runner_of(self.target), fs=self.fs)
        for mount, rp in self.restored.points:
            age = (started - rp.created).total_seconds()
            self.journal.add_restore_point(RestorePointRecord(
                role=mount, kind=rp.kind, name=rp.name, created=rp.created, age_seconds=age,
                facts={"protected": rp.protected}))
        note.facts["snapshot_set_consistent"] = self.restored.consistent
        note.facts["retention"] = json.dumps(self.restored.retention)
        if not self.restored.consistent:
            note.facts["snapshot_set_detail"] = self.restored.consistency_detail
        parts = find_parts(self.restored.view, self.plan.restore.layout, self.fs)
        self.parts = parts
        for repo in (parts.daemon_repo, parts.miner_repo):
            # A repo copied from production carries the live node's `api` file: never let anything dial it.
            self.fs.unlink(repo / "api")
        if self.plan.restore.layout.storage_remap:
            moved = remap_storage(parts.miner_repo, parts.root, self.fs)
            note.facts["storage_paths_remapped"] = len(moved)
        fence.write_winning_post_fence(parts.miner_repo / "config.toml", self.fs)
        # DESIGN rule 2b: nothing the standby holds or announces may be valid or visible on production.
        isolated = [isolation.isolate_repo(repo, self.fs, libp2p=libp2p)[0]
                    for repo, libp2p in ((parts.daemon_repo, True), (parts.miner_repo, False))]
        self.journal.fact("isolation", "; ".join(i.summary() for i in isolated))
        if self.fs.local:
            self.backup_copy = parts.miner_backup
            describe_restore_files(parts, note, started)
        elif parts.miner_backup is not None:  # the chain snapshot stays there (far too big); the backup is copied
            self._scratch = self._scratch or tempfile.TemporaryDirectory(prefix="spdrill-backup-")
            self.backup_copy = fetch_backup(self.fs, parts.miner_backup, Path(self._scratch.name), note)
            if self.backup_copy is not None:
                describe_restore_files(dataclasses.replace(parts, miner_backup=self.backup_copy,
                                                           chain_snapshot=None), note, started)
        publish_workspace(self.target)  # a copy the engine keeps (a Docker volume) is part of the restore phase
        names = ", ".join(rp.name for _, rp in self.restored.points)
        return f"workspace from {names}"

    def _import_chain(self, note: PhaseNote) -> str:
        parts = self._parts()
        if parts.chain_snapshot is None:
            raise InputError(f"no chain snapshot matching {self.plan.restore.layout.chain_snapshot!r} in the "
                             "restore point; set [restore.layout] chain_snapshot")
        argv = ["lotus", "daemon", "--import-snapshot", self.target.path(parts.chain_snapshot),
                "--halt-after-import", "--remove-existing-chain"]
        res = self.target.run(argv, env=self._env(LOTUS_PATH=self.target.path(parts.daemon_repo)),
                              timeout=self.plan.standby.timeouts.import_chain)
        if res.returncode != 0:
            raise InputError(f"lotus daemon --import-snapshot {parts.chain_snapshot.name} failed (exit "
                             f"{res.returncode}): {tail(res.stdout + res.stderr)}")
        return f"imported {parts.chain_snapshot.name}"

    def _start_daemon(self, note: PhaseNote) -> str:
        parts = self._parts()
        port = self.plan.standby.ports.daemon or self.target.free_port()
        self.ep.ports["daemon"] = port
        self._spawned.add("daemon")
        self.target.spawn("daemon", ["lotus", "daemon", "--api", str(port), *self.plan.standby.daemon_args],
                          env=self._env(LOTUS_PATH=self.target.path(parts.daemon_repo)), port=port)
        self.ep.daemon_admin, self.ep.daemon_read, version = api_up(
            self.target, self.fs, self.plan, "daemon", port, parts.daemon_repo)
        note.facts["port"] = port
        self.journal.version("lotus", version, simulated="lotus-sim" in version)
        return f"daemon API up on port {port} ({version})"

    def _sync(self, note: PhaseNote) -> str:
        assert self.ep.daemon_read is not None
        probe = StandbyProbe(self.target, "daemon")
        client = FullNodeClient(self.ep.daemon_read)
        seen = wait_for(lambda: probe.synced(client, note.facts, self.journal.clock.wall()),
                        what="chain sync", deadline=self.plan.standby.timeouts.sync)
        return seen

    def _start_worker(self, note: PhaseNote) -> str:
        parts = self._parts()
        mport = self.ep.ports.setdefault("miner", self.plan.standby.ports.miner or self.target.free_port())
        wport = self.plan.standby.ports.worker or self.target.free_port()
        self.ep.ports["worker"] = wport
        phost, pport = self.target.peer("miner", mport)
        miner_admin = token_from_repo(self.fs, parts.miner_repo, "miner", phost, pport)
        assert self.root is not None
        worker_repo = self.root / "lotus-worker"  # in the drill folder, never beside a workspace
        self.fs.mkdir(worker_repo)
        listen = f"{self.target.listen_host('worker')}:{wport}"
        self._spawned.add("worker")
        self.target.spawn("worker", ["lotus-worker", "run", "--windowpost", "--listen", listen,
                                     *self.plan.standby.worker_args],
                          env=self._env(LOTUS_WORKER_PATH=self.target.path(worker_repo),
                                        MINER_API_INFO=f"{miner_admin.token}:{maddr(phost, pport)}"), port=wport)
        note.facts["port"] = wport
        return f"worker started, listening on port {wport}"

    def _fence(self, note: PhaseNote) -> str:
        assert self.ep.daemon_read is not None
        client = FullNodeClient(self.ep.daemon_read)
        try:
            info = client.state_miner_info(self.plan.actor)
        except LotusRPCError as exc:
            if "not found" not in str(exc):
                raise
            # The daemon answered: its chain has no such miner. A finding about the plan or the restore point,
            # not a harness that could not run, so the drill fails (exit 1) instead of "could not run" (3).
            raise DrillError(f"{exc}: the restored chain does not know the plan's [drill] actor "
                             f"{self.plan.actor}; check the actor ID, or whether the chain snapshot is of "
                             "another network") from None
        if self.target.brings_up:
            parts = self._parts()
            config_verdict = fence.verify_config_fence(parts.miner_repo / "config.toml", dict(self.plan.standby.env),
                                                       self.fs)
            host, port = self.target.endpoint("daemon", self.ep.ports["daemon"])
            # WalletList needs `write`; this token is used for that one call and nothing else.
            writer = cli_token(self.target, self.plan, ["lotus", "auth", "api-info", "--perm", "write"],
                               "FULLNODE_API_INFO", host, port, LOTUS_PATH=self.target.path(parts.daemon_repo))
        else:
            config_verdict = "config: not readable on the attach target (the operator started lotus-miner)"
            writer = self.ep.daemon_admin or self.ep.daemon_read
        wallet = FullNodeClient(writer).wallet_list()
        # An account's key, or every signer's key of a multisig (owner or control): StateAccountKey fails for those.
        holders = {a: key_holder(client, a) for a in (info.owner, info.worker, *info.control_addresses)}
        keys = {a: h.keys[0] for a, h in holders.items()}  # the worker is an account: its one key
        controls = [holders[a] for a in info.control_addresses]
        if self.failover is not None:
            summary = failover.verify_wallet(wallet, holders[info.owner], keys[info.worker],
                                             [k for h in controls for k in h.keys]) + f"; {config_verdict}"
            note.facts.update({"wallet_keys": len(wallet), "config": config_verdict, "worker": keys[info.worker]})
            self.journal.fact("fence", summary)
            return summary
        checked, size = fence.verify_wallet_fence(wallet, holders[info.owner], holders[info.worker], controls)
        notes = [holders[info.owner].describe("owner"), *(h.describe("control") for h in controls)]
        report = fence.FenceReport(checked, size, config_verdict, tuple(n for n in notes if n))
        note.facts.update({"addresses_checked": len(checked), "wallet_keys": size, "config": config_verdict})
        summary = report.summary()
        if self.target.brings_up:
            summary += "; " + self._raise_firewall(writer, keys[info.worker], note)
        self.journal.fact("fence", summary)
        return summary

    def _raise_firewall(self, upstream: ApiInfo, worker_key: str, note: PhaseNote) -> str:
        """Start the chain firewall the standby miner reaches its daemon through (DESIGN rule 2).

        lotus-miner will not start unless its full node says WalletHas(worker key) (PreflightChecks,
        node/modules/storageminer.go:187-215); the firewall says so without the key, and refuses every call
        that signs or sends. Its upstream token carries read and write only: even a call it let through could
        not be signed by the daemon.
        """
        assert upstream.token is not None
        host, port = self.target.endpoint("daemon", self.ep.ports["daemon"])
        fw = ChainFirewall(f"http://{host}:{port}", upstream.token, [worker_key],
                           listen_host=self.target.harness_bind_host())
        fw.start()
        self.firewall = fw
        self.firewall_route = self.target.expose_harness(fw.port)
        note.facts["chain_firewall"] = "{}:{}".format(*self.firewall_route)
        return (f"chain firewall up (the miner reaches the daemon only through it, at "
                f"{self.firewall_route[0]}:{self.firewall_route[1]})")

    def _start_miner(self, note: PhaseNote) -> str:
        parts = self._parts()
        assert self.ep.daemon_admin is not None
        port = self.ep.ports.setdefault("miner", self.plan.standby.ports.miner or self.target.free_port())
        if self.firewall is not None and self.firewall_route is not None:
            full_node = f"{self.firewall.token}:{maddr(*self.firewall_route)}"
        else:  # failover: the miner holds the worker key for real and must reach its daemon directly
            full_node = f"{self.ep.daemon_admin.token}:{maddr(*self.target.peer('daemon', self.ep.ports['daemon']))}"
        env = self._env(LOTUS_MINER_PATH=self.target.path(parts.miner_repo), FULLNODE_API_INFO=full_node)
        env[fence.ENV_OVERRIDE] = "true"
        # The worker reads vanilla proofs from http://<RemoteListenAddress>/remote (node/builder.go:290-295);
        # the restored value names the production miner, which shares the restored JWT secret.
        env[isolation.REMOTE_LISTEN_ENV] = "{}:{}".format(*self.target.peer("miner", port))
        self._spawned.add("miner")
        self.target.spawn("miner", ["lotus-miner", "run", "--miner-api", str(port), "--nosync",
                                    *self.plan.standby.miner_args], env=env, port=port)
        if self.failover is not None:  # a repo made by init restore gets its token when lotus-miner first starts
            wait_for(lambda: (self.fs.is_file(parts.miner_repo / "token"), "no token file yet"),
                     what="lotus-miner token", deadline=self.plan.standby.timeouts.start)
        self.ep.miner_admin, self.ep.miner_read, version = api_up(
            self.target, self.fs, self.plan, "miner", port, parts.miner_repo)
        actor = MinerClient(self.ep.miner_read).actor_address()
        note.facts.update({"port": port, "actor": actor})
        self.journal.version("lotus-miner", version, simulated="lotus-sim" in version)
        return f"lotus-miner API up on port {port} as {actor}"

    def _init_restore(self, note: PhaseNote) -> str:
        """Failover only: make the miner repo with `lotus-miner init restore` (pushes ChangePeerID on chain)."""
        parts = self._parts()
        assert self.failover is not None and self.ep.daemon_admin is not None and self.root is not None
        if parts.miner_backup is None:
            raise InputError(f"failover: no metadata backup matching {self.plan.restore.layout.miner_backup!r} in "
                             "the restore point; set [restore.layout] miner_backup. init restore was not run")
        if self.backup_copy is not None:  # the restored backup, or its copy from the standby host
            failover.check_backup_actor(self.backup_copy, self.failover.actor)
        repo = self.root / failover.NEW_REPO
        storage = parts.miner_repo / "storage.json"
        argv = failover.init_restore_argv(
            self.target.path(parts.miner_backup), config=self.target.path(parts.miner_repo / "config.toml"),
            storage_config=self.target.path(storage) if self.fs.is_file(storage) else None,
            nosync=self.failover.nosync)
        daemon_addr = maddr(*self.target.peer("daemon", self.ep.ports["daemon"]))
        env = self._env(LOTUS_MINER_PATH=self.target.path(repo),
                        FULLNODE_API_INFO=f"{self.ep.daemon_admin.token}:{daemon_addr}")
        timeout = self.plan.standby.timeouts.sync + self.plan.standby.timeouts.start + 300  # + 5 epochs' wait
        res = self.target.run(argv, env=env, timeout=timeout)
        output = res.stdout + "\n" + res.stderr
        cid = failover.outcome(res.returncode, output, self.target.path(repo), tail(output))
        note.facts.update({"change_peer_id_cid": cid, "repo": self.target.path(repo), "nosync": self.failover.nosync})
        self.journal.fact(failover.CID_FACT, cid)
        # The repo init restore wrote is the one lotus-miner runs from: read its fence back before it starts.
        verdict = fence.verify_config_fence(repo / "config.toml", dict(self.plan.standby.env), self.fs)
        self.parts = dataclasses.replace(parts, miner_repo=repo)
        return f"miner repo made by lotus-miner init restore; ChangePeerID message {cid}; {verdict}"

    def _storage(self, note: PhaseNote) -> str:
        assert self.ep.miner_admin is not None  # StorageLocal is an admin method in Lotus
        return StandbyProbe(self.target, "miner").storage(MinerClient(self.ep.miner_admin), note.facts)

    def _worker_connected(self, note: PhaseNote) -> str:
        assert self.ep.miner_admin is not None
        probe = StandbyProbe(self.target, "worker")
        client = MinerClient(self.ep.miner_admin)
        need_gpu = self.plan.standby.requirements.worker_gpu
        return wait_for(lambda: probe.windowpost_worker(client, note.facts, need_gpu=need_gpu),
                        what="WindowPoSt worker",
                        deadline=self.plan.standby.timeouts.start)

    def _check_provable(self, note: PhaseNote) -> str:
        from spdrill.lotus.miner import CHECK_PROVABLE_TIMEOUT_S

        assert self.ep.daemon_read is not None and self.ep.miner_admin is not None
        # One call per partition, each bounded by Lotus's PartitionCheckTimeout (20 m): wait longer than that.
        timeout = max(CHECK_PROVABLE_TIMEOUT_S, self.plan.standby.timeouts.post)
        return StandbyProbe(self.target, "miner").check_provable(
            FullNodeClient(self.ep.daemon_read), MinerClient(self.ep.miner_admin), self.plan.actor, note.facts,
            timeout=timeout)

    def _post_dry_run(self, note: PhaseNote) -> str:
        assert self.ep.daemon_read is not None and self.ep.miner_admin is not None
        budget = CHALLENGE_WINDOW_S - self.plan.objectives.post_margin
        note.facts["budget_seconds"] = budget
        return StandbyProbe(self.target, "miner").post_dry_run(
            FullNodeClient(self.ep.daemon_read),
            MinerClient(self.ep.miner_admin, timeout=self.plan.standby.timeouts.post),
            self.plan.actor, note.facts, self.journal.clock)

    def _reconcile(self, note: PhaseNote) -> str:
        """On-chain sectors per deadline against the restored miner and CheckProvable's findings."""
        from spdrill.reconcile_probe import backup_sectors, reconcile

        assert self.ep.daemon_read is not None and self.ep.miner_admin is not None
        checked = self.board.wait("check-provable")
        bad_json = checked.data.get("bad_json")
        bad = {int(k): str(v) for k, v in json.loads(bad_json).items()} if isinstance(bad_json, str) else None
        backup = None
        if self.backup_copy is not None:
            backup = backup_sectors(self.backup_copy)
        report = reconcile(FullNodeClient(self.ep.daemon_read), MinerClient(self.ep.miner_admin), self.plan.actor,
                           provable_bad=bad, backup=backup)
        note.facts.update(report.stage_data())
        self.journal.fact("reconciliation", json.dumps(report.to_facts(), separators=(",", ":")))
        return report.summary()

    # -- helpers -----------------------------------------------------------------------------------------
    def _dead_roles(self, grace: float = 3.0) -> str:
        """Which started roles have exited (waiting briefly: an API drops a moment before its process is reaped)."""
        if not self._spawned:
            return ""
        deadline = time.monotonic() + grace
        while True:
            dead = []
            for role in sorted(self._spawned):
                try:
                    code = self.target.exit_code(role)
                except DrillError:
                    code = None
                if code is not None:
                    dead.append(f"the standby {role} process exited (code {code})")
            if dead or time.monotonic() >= deadline:
                return "; ".join(dead)
            time.sleep(0.2)

    def _parts(self) -> RestoredParts:
        assert self.parts is not None, "restore ran first"
        return self.parts

    def _env(self, **extra: str) -> dict[str, str]:
        env = dict(self.plan.standby.env)
        env.update(extra)
        return env

def stage_names() -> Mapping[str, tuple[str, tuple[str, ...]]]:
    """The stage graph, for reports and docs."""
    return GRAPH


__all__ = ["BringUp", "Endpoints", "GRAPH", "ProbeGaveUp", "stage_names"]
