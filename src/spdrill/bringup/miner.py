"""The miner branch: the fence (wallet, config, chain firewall), lotus-miner on the restored repo (or, in a
failover, on the repo `lotus-miner init restore` makes), its storage; or the running lotus-miner attached to."""

from __future__ import annotations

import dataclasses

from spdrill import failover, fence, isolation
from spdrill.bringup.apis import api_up, cli_token, key_holder, maddr, tail
from spdrill.bringup.context import Standby
from spdrill.bringup.probes import StandbyProbe
from spdrill.errors import DrillError, InputError, LotusRPCError
from spdrill.findings import FenceFinding, InitRestoreFinding, MinerFinding, StorageFinding
from spdrill.firewall import ChainFirewall
from spdrill.journal import PhaseNote
from spdrill.lotus import ApiInfo
from spdrill.waits import wait_for


class MinerStages:
    """The miner branch's stages and the chain firewall they raise (stopped by `release`)."""

    def __init__(self, sb: Standby, mode: failover.FailoverMode | None) -> None:
        self.sb = sb
        self.failover = mode  # None: an ordinary drill, which never runs `lotus-miner init restore`
        self.firewall: ChainFirewall | None = None  # between the standby miner and daemon (not in failover)
        self.firewall_route: tuple[str, int] | None = None  # where the roles dial it

    # -- fence -------------------------------------------------------------------------------------------------
    def fence(self, note: PhaseNote) -> FenceFinding:
        """Wallet fence (no owner/worker/control key; failover: the worker key only), config fence, firewall."""
        sb = self.sb
        client = sb.fullnode(sb.ep.daemon_read)
        try:
            info = client.state_miner_info(sb.plan.actor)
        except LotusRPCError as exc:
            if not exc.actor_not_found:
                raise
            raise DrillError(f"{exc}: the restored chain does not know the plan's [drill] actor "
                             f"{sb.plan.actor}; check the actor ID, or whether the chain snapshot is of "
                             "another network") from None
        if sb.target.brings_up:
            parts = sb.parts_()
            config_verdict = fence.verify_config_fence(parts.miner_repo / "config.toml", dict(sb.plan.standby.env),
                                                       sb.fs)
            host, port = sb.target.endpoint("daemon", sb.ep.ports["daemon"])
            # WalletList needs `write`; this token is used for that one call and nothing else.
            writer = cli_token(sb.target, sb.plan, ["lotus", "auth", "api-info", "--perm", "write"],
                               "FULLNODE_API_INFO", host, port, LOTUS_PATH=sb.target.path(parts.daemon_repo))
        else:
            config_verdict = "config: not readable on the attach target (the operator started lotus-miner)"
            attached = sb.ep.daemon_admin or sb.ep.daemon_read
            assert attached is not None  # fence runs after start-daemon
            writer = attached
        wallet = sb.fullnode(writer).wallet_list()
        # An account's key, or every signer's key of a multisig (owner or control): StateAccountKey fails for those.
        holders = {a: key_holder(client, a) for a in (info.owner, info.worker, *info.control_addresses)}
        keys = {a: h.keys[0] for a, h in holders.items()}  # the worker is an account: its one key
        controls = [holders[a] for a in info.control_addresses]
        if self.failover is not None:
            summary = failover.verify_wallet(wallet, holders[info.owner], keys[info.worker],
                                             [k for h in controls for k in h.keys]) + f"; {config_verdict}"
            sb.journal.fact("fence", summary)
            return FenceFinding(detail=summary, wallet_keys=len(wallet), config=config_verdict,
                                worker=keys[info.worker])
        checked, size = fence.verify_wallet_fence(wallet, holders[info.owner], holders[info.worker], controls)
        notes = [holders[info.owner].describe("owner"), *(h.describe("control") for h in controls)]
        report = fence.FenceReport(checked, size, config_verdict, tuple(n for n in notes if n))
        found = FenceFinding(addresses_checked=len(checked), wallet_keys=size, config=config_verdict)
        summary = report.summary()
        if sb.target.brings_up:
            summary += "; " + self._raise_firewall(writer, keys[info.worker])
            found = dataclasses.replace(found, chain_firewall="{}:{}".format(*self.firewall_route or ("", 0)))
        sb.journal.fact("fence", summary)
        return dataclasses.replace(found, detail=summary)

    def _raise_firewall(self, upstream: ApiInfo, worker_key: str) -> str:
        """Start the chain firewall the standby miner reaches its daemon through (DESIGN rule 2).

        lotus-miner will not start unless its full node says WalletHas(worker key) (PreflightChecks,
        node/modules/storageminer.go:187-215); the firewall says so without the key, and refuses every call
        that signs or sends. Its upstream token carries read and write only: even a call it let through could
        not be signed by the daemon.
        """
        sb = self.sb
        assert upstream.token is not None
        host, port = sb.target.endpoint("daemon", sb.ep.ports["daemon"])
        fw = ChainFirewall(f"http://{host}:{port}", upstream.token, [worker_key],
                           listen_host=sb.target.harness_bind_host())
        fw.start()
        self.firewall = fw
        self.firewall_route = sb.target.expose_harness(fw.port)
        return (f"chain firewall up (the miner reaches the daemon only through it, at "
                f"{self.firewall_route[0]}:{self.firewall_route[1]})")

    def release(self) -> None:
        """Stop the chain firewall; its record (what it refused and answered) goes to the journal."""
        if self.firewall is None:
            return
        self.firewall.stop()
        seen = self.firewall.report()
        journal = self.sb.journal
        journal.fact("chain_firewall", seen.summary())
        journal.fact("chain_firewall_refused", seen.refused_total)
        journal.fact("chain_firewall_refused_methods",
                     ", ".join(f"{r.method} x{r.count}" for r in seen.refused) or "none")
        self.firewall = None

    # -- lotus-miner -------------------------------------------------------------------------------------------
    def start_miner(self, note: PhaseNote) -> MinerFinding:
        """Start lotus-miner on the restored repo, fenced, dialing the daemon through the chain firewall."""
        sb = self.sb
        parts = sb.parts_()
        assert sb.ep.daemon_admin is not None
        port = sb.ep.ports.setdefault("miner", sb.plan.standby.ports.miner or sb.target.free_port())
        if self.firewall is not None and self.firewall_route is not None:
            full_node = f"{self.firewall.token}:{maddr(*self.firewall_route)}"
        else:  # failover: the miner holds the worker key for real and must reach its daemon directly
            full_node = f"{sb.ep.daemon_admin.token}:{maddr(*sb.target.peer('daemon', sb.ep.ports['daemon']))}"
        env = sb.env(LOTUS_MINER_PATH=sb.target.path(parts.miner_repo), FULLNODE_API_INFO=full_node)
        env[fence.ENV_OVERRIDE] = "true"
        # The worker reads vanilla proofs from http://<RemoteListenAddress>/remote (node/builder.go:290-295);
        # the restored value names the production miner, which shares the restored JWT secret.
        env[isolation.REMOTE_LISTEN_ENV] = "{}:{}".format(*sb.target.peer("miner", port))
        sb.spawn("miner", ["lotus-miner", "run", "--miner-api", str(port), "--nosync", *sb.plan.standby.miner_args],
                 env=env, port=port)
        if self.failover is not None:  # a repo made by init restore gets its token when lotus-miner first starts
            wait_for(lambda: (sb.fs.is_file(parts.miner_repo / "token"), "no token file yet"),
                     what="lotus-miner token", deadline=sb.plan.standby.timeouts.start)
        sb.ep.miner_admin, sb.ep.miner_read, version = api_up(
            sb.target, sb.fs, sb.plan, "miner", port, parts.miner_repo)
        actor = sb.miner(sb.ep.miner_read).actor_address()
        sb.journal.version("lotus-miner", version, simulated="lotus-sim" in version)
        return MinerFinding(detail=f"lotus-miner API up on port {port} as {actor}", port=port, actor=actor)

    def attach_miner(self, note: PhaseNote) -> MinerFinding:
        """The attach target: the lotus-miner the plan points at, already running."""
        sb = self.sb
        info = sb.target.api_info("miner")
        client = sb.miner(info)
        version = client.version()
        sb.ep.miner_admin = sb.ep.miner_read = info
        actor = client.actor_address()
        sb.journal.version("lotus-miner", version.version, simulated="lotus-sim" in version.agent)
        return MinerFinding(detail=f"attached to lotus-miner {version.version} as {actor}", actor=actor)

    def init_restore(self, note: PhaseNote) -> InitRestoreFinding:
        """Failover only: make the miner repo with `lotus-miner init restore` (pushes ChangePeerID on chain)."""
        sb = self.sb
        parts = sb.parts_()
        assert self.failover is not None and sb.ep.daemon_admin is not None and sb.root is not None
        if parts.miner_backup is None:
            raise InputError(f"failover: no metadata backup matching {sb.plan.restore.layout.miner_backup!r} in "
                             "the restore point; set [restore.layout] miner_backup. init restore was not run")
        if sb.backup_copy is not None:  # the restored backup, or its copy from the standby host
            failover.check_backup_actor(sb.backup_copy, self.failover.actor)
        repo = sb.root / failover.NEW_REPO
        storage = parts.miner_repo / "storage.json"
        argv = failover.init_restore_argv(
            sb.target.path(parts.miner_backup), config=sb.target.path(parts.miner_repo / "config.toml"),
            storage_config=sb.target.path(storage) if sb.fs.is_file(storage) else None,
            nosync=self.failover.nosync)
        daemon_addr = maddr(*sb.target.peer("daemon", sb.ep.ports["daemon"]))
        env = sb.env(LOTUS_MINER_PATH=sb.target.path(repo),
                     FULLNODE_API_INFO=f"{sb.ep.daemon_admin.token}:{daemon_addr}")
        timeout = sb.plan.standby.timeouts.sync + sb.plan.standby.timeouts.start + 300  # + 5 epochs' wait
        res = sb.target.run(argv, env=env, timeout=timeout)
        output = res.stdout + "\n" + res.stderr
        cid = failover.outcome(res.returncode, output, sb.target.path(repo), tail(output))
        found = InitRestoreFinding(change_peer_id_cid=cid, repo=sb.target.path(repo), nosync=self.failover.nosync)
        note.finding = found
        sb.journal.fact(failover.CID_FACT, cid)
        # The repo init restore wrote is the one lotus-miner runs from: read its fence back before it starts.
        verdict = fence.verify_config_fence(repo / "config.toml", dict(sb.plan.standby.env), sb.fs)
        sb.parts = dataclasses.replace(parts, miner_repo=repo)
        return dataclasses.replace(found, detail=f"miner repo made by lotus-miner init restore; ChangePeerID "
                                   f"message {cid}; {verdict}")

    def storage(self, note: PhaseNote) -> StorageFinding:
        """Every storage path of the restored miner is attached (StorageLocal is an admin method in Lotus)."""
        return StandbyProbe(self.sb.target, "miner").storage(self.sb.miner(self.sb.ep.miner_admin))

