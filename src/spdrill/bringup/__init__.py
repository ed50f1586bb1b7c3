"""The bring-up: restore, then the daemon branch and the worker branch in parallel, then the fenced miner and
the PoSt checks. Each stage is a timed phase in the journal and on the stage board the checks read.

Modules by concern: `graph` (the graph, its runner, the board), `context` (what the stages share),
`restoring`, `daemon`, `miner`, `proving` (the stages), `apis` and `probes` (reaching and judging a role's API).
A mode is data: `stage_table` gives the graph and the stage functions of a drill, the attach target or a failover.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from spdrill import failover
from spdrill.bringup import daemon, proving
from spdrill.bringup.context import Endpoints, Standby
from spdrill.bringup.graph import Graph, GraphRunner, StageBoard, StageFn, StageSpec, Verdict, not_applicable
from spdrill.bringup.miner import MinerStages
from spdrill.bringup.restoring import restore_stage
from spdrill.errors import CannotRunError, DrillError, LotusError, LotusUnreachableError
from spdrill.findings import Finding
from spdrill.journal import JournalBuilder, PhaseNote
from spdrill.plan import Plan
from spdrill.redact import redact
from spdrill.targets import Target
from spdrill.waits import ProbeGaveUp

# The order here is the order of a serial run, and of the reports.
GRAPH = Graph({
    "restore": StageSpec("main", ()),
    "import-chain": StageSpec("daemon", ("restore",)),
    "start-daemon": StageSpec("daemon", ("import-chain",)),
    "sync": StageSpec("daemon", ("start-daemon",)),
    "start-worker": StageSpec("worker", ("restore",)),
    "fence": StageSpec("miner", ("start-daemon",)),
    "start-miner": StageSpec("miner", ("fence",)),
    "storage": StageSpec("miner", ("start-miner",)),
    "worker-connected": StageSpec("miner", ("start-miner", "start-worker")),
    "check-provable": StageSpec("miner", ("start-miner",)),
    "post-dry-run": StageSpec("miner", ("sync", "worker-connected", "check-provable")),
    # reads CheckProvable's findings: runs when check-provable failed having run
    "reconcile": StageSpec("chain", ("check-provable",), reads=("check-provable",)),
})


def stage_table(sb: Standby, miner: MinerStages, board: StageBoard, *,
                brings_up: bool, mode: failover.FailoverMode | None) -> tuple[Graph, dict[str, StageFn]]:
    """The graph and stage functions of one mode: a drill, the attach target (checks only), or a failover."""

    def on(fn: Callable[[Standby, PhaseNote], Finding]) -> StageFn:
        return lambda note: fn(sb, note)

    table: dict[str, StageFn] = {
        "restore": on(restore_stage), "import-chain": on(daemon.import_chain), "start-daemon": on(daemon.start_daemon),
        "sync": on(daemon.sync), "start-worker": on(proving.start_worker), "fence": miner.fence,
        "start-miner": miner.start_miner, "storage": miner.storage, "worker-connected": on(proving.worker_connected),
        "check-provable": on(proving.check_provable), "post-dry-run": on(proving.post_dry_run),
        "reconcile": lambda note: proving.reconcile(sb, board, note),
    }
    graph = GRAPH
    if not brings_up:
        why = "the attach target restores and starts nothing"
        table.update({"restore": not_applicable(why), "import-chain": not_applicable(why),
                      "start-worker": not_applicable(why), "start-daemon": on(daemon.attach_daemon),
                      "start-miner": miner.attach_miner})
    if mode is not None:
        graph = failover.failover_graph(GRAPH, mode.nosync)
        table["init-restore"] = miner.init_restore
    return graph, table


class BringUp:
    """Runs one drill's stage graph on one target; never raises out of `run` (phases say what failed)."""

    def __init__(self, plan: Plan, target: Target, journal: JournalBuilder, board: StageBoard | None = None,
                 failover_mode: failover.FailoverMode | None = None) -> None:
        self.plan = plan
        self.target = target
        self.journal = journal
        self.failover = failover_mode
        if failover_mode is not None:
            journal.fact(failover.MODE_FACT, "failover")
            journal.fact(failover.NEXT_STEP_FACT, failover.NEXT_STEP)
        self.standby = Standby(plan, target, journal)
        self.miner = MinerStages(self.standby, failover_mode)
        self.board = board or StageBoard()
        self.graph, table = stage_table(self.standby, self.miner, self.board, brings_up=target.brings_up,
                                        mode=failover_mode)
        self.board.graph = self.graph
        self.runner = GraphRunner(self.graph, table, journal, self.board, judge=self._judge)

    @property
    def ep(self) -> Endpoints:
        return self.standby.ep

    @property
    def cannot_run(self) -> DrillError | None:
        """The first error that meant spdrill itself could not run the drill (exit 3), if any: a CannotRunError,
        or the attach target's LotusUnreachableError at first contact."""
        exc = self.runner.cannot_run
        if exc is None or isinstance(exc, DrillError):
            return exc
        return CannotRunError(str(exc))

    def run(self) -> None:
        """Run every stage in dependency order, each once what it runs after is done."""
        self.runner.run("the bring-up ended" if self.target.brings_up else "the checks ended")

    def stop(self) -> None:
        self.runner.stop()

    def release(self) -> None:
        """Stop the chain firewall (its record goes to the journal), close clients, remove the scratch copies."""
        self.miner.release()
        self.standby.release()

    def _judge(self, stage: str, exc: BaseException) -> Verdict:
        """What a stage's error means: a finding about the standby (exit 1) or spdrill could not run (exit 3).

        Anything spdrill started (or attached to) that dies or answers wrongly is a finding. A Lotus API that
        does not answer is "could not run" only when it is the attach target's API at first contact (the plan
        points at it; nothing was started); a target or engine failure is "could not run" unless a role spdrill
        started has died (then the death is the finding). docs/exit-codes.md has the table.
        """
        detail = redact(str(exc)) or exc.__class__.__name__
        if isinstance(exc, LotusError) and not isinstance(exc, LotusUnreachableError):
            return Verdict(detail, False)  # the API answered, with an error: a finding about the standby
        if isinstance(exc, LotusError | CannotRunError):
            dead = self.standby.dead_roles()
            if dead:  # a standby process we started died: a finding about the restore, not "could not run"
                return Verdict(f"{dead}; {detail}", False)
            if isinstance(exc, LotusUnreachableError):
                return Verdict(detail, not self.target.brings_up and stage in _ATTACH_FIRST_CONTACT)
            return Verdict(detail, True)
        if not isinstance(exc, DrillError):  # a bug or a foreign error: name its type
            detail = redact(f"{exc.__class__.__name__}: {exc}")
        return Verdict(detail, False)


_ATTACH_FIRST_CONTACT = ("start-daemon", "start-miner")


def stage_names() -> Mapping[str, StageSpec]:
    """The stage graph, for reports and docs."""
    return GRAPH


__all__ = ["GRAPH", "BringUp", "Endpoints", "Graph", "ProbeGaveUp", "StageBoard", "StageSpec", "stage_names"]
