"""Readiness probes against a standby's Lotus APIs; each returns (ready, what it saw) for the wait policies."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from spdrill.clock import Clock
from spdrill.errors import LotusRPCError
from spdrill.findings import PoStFinding, ProvableFinding, StageProblem, StorageFinding, SyncFinding, WorkerFinding
from spdrill.journal import PhaseNote
from spdrill.lotus import FullNodeClient, MinerClient, SectorRef, epochs_behind, is_sync_done
from spdrill.lotus.miner import CHECK_PROVABLE_TIMEOUT_S, split_provable_bad
from spdrill.targets import Target
from spdrill.waits import ProbeGaveUp

WINDOW_POST_TASK = "post/v0/windowproof"
WPOST_PERIOD_DEADLINES = 48
NAMED = 5  # sectors named in a message; the counts carry the rest


def _not_in_state_note(unverified: list[int]) -> str:
    """The sectors CheckProvable could not judge because the restored miner does not know them."""
    if not unverified:
        return ""
    named = ", ".join(map(str, unverified[:NAMED])) + (", …" if len(unverified) > NAMED else "")
    return (f"; {len(unverified)} not in the restored miner's state (sealed after the backup?): {named}; "
            "CheckProvable cannot check their files, the PoSt dry-run (on-chain sealed CIDs) does")


class PoStError(StageProblem):
    """The WindowPoSt dry-run or a provability check found a problem."""


class StandbyProbe:
    """Probes for one role of the standby; each notices a dead process instead of waiting it out."""

    def __init__(self, target: Target, role: str) -> None:
        self.target = target
        self.role = role

    def _alive(self) -> None:
        code = self.target.exit_code(self.role)
        if code is not None:
            tail = " | ".join(self.target.logs().get(self.role, "").strip().splitlines()[-3:])
            from spdrill.redact import redact

            raise ProbeGaveUp(f"the {self.role} process exited with code {code}: {redact(tail) or 'no output'}")

    def api_up(self, client: FullNodeClient | MinerClient) -> tuple[bool, str]:
        self._alive()
        v = client.version()
        return True, f"{v.version} (agent {v.agent or 'lotus'})"

    def synced(self, client: FullNodeClient, note: PhaseNote, now: datetime) -> tuple[bool, str]:
        """Synced exactly as `lotus sync wait` decides: head's min timestamp within one block delay of now."""
        self._alive()
        delay = client.version().block_delay or 30
        head = client.chain_head()
        ts = now.timestamp()
        behind = epochs_behind(head, ts, delay)
        ok = is_sync_done(head, ts, delay)
        seen = f"height {head.height}, {behind} epochs behind" + (" (synced)" if ok else "")
        note.finding = SyncFinding(detail=seen, height=head.height, epochs_behind=behind, block_delay=delay)
        return ok, seen

    def storage(self, client: MinerClient) -> StorageFinding:
        local = client.storage_local()
        if not local:
            raise PoStError("lotus-miner has no local storage path attached; check the restored storage.json and "
                            "that every storage path of the restore point exists in the workspace",
                            StorageFinding(paths=0))
        return StorageFinding(detail=f"{len(local)} storage path(s) attached: "
                              + ", ".join(sorted(str(p) for p in local.values())), paths=len(local))

    def windowpost_worker(self, client: MinerClient, note: PhaseNote, *, need_gpu: bool = True) -> tuple[bool, str]:
        self._alive()
        stats = client.worker_stats()
        post = [w for w in stats.values() if w.enabled and WINDOW_POST_TASK in w.tasks]
        note.finding = WorkerFinding(workers=len(stats), windowpost_workers=len(post),
                                     gpus=tuple(sorted({g for w in post for g in w.info.gpus})))
        if not post:
            return False, f"{len(stats)} worker(s) connected, none doing WindowPoSt"
        w = post[0]
        if need_gpu and not any(p.info.gpus for p in post):
            raise ProbeGaveUp(f"the WindowPoSt worker on {w.info.hostname} reports no GPU: proving 32GiB "
                              "partitions on CPU misses deadlines. Give the standby worker a GPU (or set "
                              "[standby.requirements] worker_gpu = false for a CPU-only drill)")
        return True, f"WindowPoSt worker on {w.info.hostname} with GPUs: {', '.join(w.info.gpus) or 'none'}"

    def check_provable(self, full: FullNodeClient, miner: MinerClient, actor: str, *,
                       timeout: float = CHECK_PROVABLE_TIMEOUT_S) -> ProvableFinding:
        """CheckProvable once per partition with live sectors, as `lotus-miner proving check` does
        (cli/miner/proving.go:160-189); fail naming each sector whose files are missing or damaged.

        A sector the restored miner's sealing state lacks (sealed after the backup?) comes back as
        `getting commR: …` whatever its files (storage/sealer/faults.go:79-83): it is listed, not failed; the PoSt
        dry-run, which uses the on-chain sealed CIDs (storage/wdpost/wdpost_run.go:184-237), judges its storage.
        """
        info = full.state_miner_info(actor)
        miner_id = int(actor[2:])
        bad: dict[int, str] = {}
        checked = deadlines = partitions = 0
        for dl in range(WPOST_PERIOD_DEADLINES):
            parts = [p for p in full.state_miner_partitions(actor, dl) if len(p.live_sectors)]
            deadlines += bool(parts)
            for part in parts:
                partitions += 1
                checked += len(part.live_sectors)
                sectors = full.state_miner_sectors(actor, part.live_sectors)
                refs = [SectorRef(miner_id, s.sector_number, s.seal_proof) for s in sectors]
                bad.update(miner.check_provable(info.window_post_proof_type, refs, timeout=timeout))
        files_bad, not_in_state = split_provable_bad(bad)
        unverified = sorted(not_in_state)
        finding = ProvableFinding(
            deadlines=deadlines, partitions=partitions, sectors_checked=checked, bad_sectors=len(files_bad),
            not_in_restored_state=len(unverified), not_in_restored_state_sample=", ".join(map(str, unverified[:NAMED])),
            bad=dict(sorted(bad.items())))  # every reason CheckProvable gave (reconcile splits them the same way)
        if files_bad:
            first = sorted(files_bad.items())[:NAMED]
            listing = "; ".join(f"sector {n}: {why}" for n, why in first)
            more = f" (and {len(files_bad) - NAMED} more)" if len(files_bad) > NAMED else ""
            raise PoStError(f"{len(files_bad)} of {checked} live sectors are not provable on the standby: "
                            f"{listing}{more}. Restore the missing or damaged sealed/cache files before relying "
                            f"on this backup{_not_in_state_note(unverified)}", finding)
        return dataclasses.replace(finding, detail=(
            f"{checked - len(unverified)} of {checked} live sectors in {deadlines} deadlines ({partitions} "
            f"partitions) provable{_not_in_state_note(unverified)}"))

    def post_dry_run(self, full: FullNodeClient, miner: MinerClient, actor: str, budget: float,
                     clock: Clock) -> PoStFinding:
        """ComputeWindowPoSt for the next deadline with sectors; it must finish inside the budget."""
        finding = PoStFinding(budget_seconds=budget)
        current = full.state_miner_proving_deadline(actor).index
        chosen = None
        for step in range(1, WPOST_PERIOD_DEADLINES + 1):
            dl = (current + step) % WPOST_PERIOD_DEADLINES
            parts = full.state_miner_partitions(actor, dl)
            if any(len(p.live_sectors) for p in parts):
                chosen = (dl, len(parts), sum(len(p.live_sectors) for p in parts))
                break
        if chosen is None:
            raise PoStError(f"{actor} has no live sectors in any deadline: nothing to prove", finding)
        dl, nparts, nsectors = chosen
        finding = dataclasses.replace(finding, deadline=dl, partitions=nparts, sectors=nsectors)
        t0 = clock.elapsed()
        try:
            results = miner.compute_window_post(dl)
        except LotusRPCError as exc:
            raise PoStError(f"ComputeWindowPoSt for deadline {dl} failed: {exc.rpc_message}", finding) from None
        took = clock.elapsed() - t0
        skipped = sorted({n for r in results for part in r.partitions for n in part.skipped})
        proofs = sum(len(r.proof_bytes) for r in results)
        finding = dataclasses.replace(finding, seconds=round(took, 3), skipped=len(skipped), proofs=proofs)
        if skipped:
            raise PoStError(f"WindowPoSt dry-run for deadline {dl} skipped {len(skipped)} sector(s) "
                            f"({', '.join(map(str, skipped[:10]))}); they would be declared faulty", finding)
        if proofs == 0:
            raise PoStError(f"WindowPoSt dry-run for deadline {dl} produced no proof", finding)
        if took > budget:
            raise PoStError(f"WindowPoSt dry-run for deadline {dl} took {took:.0f}s, over the {budget:.0f}s budget "
                            "(30m challenge window minus the plan's post_margin): the deadline would be missed",
                            finding)
        return dataclasses.replace(finding, detail=(
            f"deadline {dl}: {nparts} partition(s), {nsectors} sectors proven in {took:.1f}s (budget {budget:.0f}s)"))
